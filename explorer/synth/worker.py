"""A plugin-hosting worker process ("zygote"): `python -m explorer.synth.worker PLUGIN SR BLOCK`.

Why a zygote: a plugin keeps hidden state between renders (voices, reverb tails, and in amsynth a
process-global noise generator), so two renders of the same parameters in one process differ. This
process loads the plugin once and never renders or touches a parameter itself; every request runs in
a child forked from it, which starts from the pristine loaded state and exits afterwards. Forking costs
a few milliseconds, loading a plugin ~150 ms. The result is bit-identical audio for identical
parameters, whatever was rendered before and in whichever process. The next child is forked right after
each reply and waits for its job ("spare"), so a single render does not wait for the fork.

Protocol: pickled (command, payload) tuples on stdin, pickled ("ok", result) or ("error", message) on
the original stdout. The plugin's own prints are sent to stderr so they cannot corrupt the protocol.
"""

from __future__ import annotations

import mmap
import os
import pickle
import sys
import time
import traceback

import numpy as np


def _load(plugin_path: str, sample_rate: int, block: int):
    import dawdreamer as daw  # imported here: only worker processes load the host library

    engine = daw.RenderEngine(sample_rate, block)
    proc = engine.make_plugin_processor("synth", plugin_path)
    engine.load_graph([(proc, [])])
    return engine, proc


OUT_BYTES = 1 << 22  # the most a child passes back (a render is 352,800 bytes; texts and states are small)


class _Child:
    """A child forked from the pristine worker ahead of its job ("spare"), waiting for it on a pipe: the
    fork is then off the request's path (the worker forks the next spare after replying). The job is
    `(kind, args)` run by `_job` in the child; the result comes back through shared memory."""

    def __init__(self) -> None:
        self.shm = mmap.mmap(-1, OUT_BYTES + 8)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: a pristine copy of the loaded plugin, until its one job arrives
            os.close(w)
            code = 0
            try:
                chunks = []
                while chunk := os.read(r, 1 << 16):
                    chunks.append(chunk)
                if chunks:  # no job (the worker is closing): exit at once
                    data = _job(*pickle.loads(b"".join(chunks)))
                    self.shm[:8] = len(data).to_bytes(8, "little")
                    self.shm[8 : 8 + len(data)] = data
            except BaseException:  # noqa: BLE001 - the child reports any failure through its exit code
                traceback.print_exc()
                code = 1
            os._exit(code)
        os.close(r)
        self.pid, self.w = pid, w

    def run(self, kind: str, args) -> bytes:
        data = memoryview(pickle.dumps((kind, args), protocol=pickle.HIGHEST_PROTOCOL))
        while data:
            data = data[os.write(self.w, data):]
        os.close(self.w)
        _, status = os.waitpid(self.pid, 0)
        if status != 0:
            raise RuntimeError(f"render child failed (wait status {status}); see stderr")
        n = int.from_bytes(self.shm[:8], "little")
        out = bytes(self.shm[8 : 8 + n])
        self.shm.close()
        return out

    def discard(self) -> None:
        os.close(self.w)
        os.waitpid(self.pid, 0)
        self.shm.close()


_CTX: dict = {}  # the worker's engine and processor (children inherit them)
_spare: list[_Child] = []


def _forked(kind: str, args) -> bytes:
    """Run job `(kind, args)` in a child forked from the pristine worker (the spare when there is one)."""
    child = _spare.pop() if _spare else _Child()
    return child.run(kind, args)


def _refill() -> None:
    """Fork the next spare child (after a reply: off the request's path)."""
    if not _spare:
        _spare.append(_Child())


def _job(kind: str, args) -> bytes:
    engine, proc = _CTX["engine"], _CTX["proc"]
    if kind == "render":
        return _render(engine, proc, *args)
    if kind == "render_texts":
        return _render_texts(engine, proc, *args)
    if kind == "text":
        return _texts(proc, args)
    if kind == "state":
        return _state(proc, args)
    if kind == "timing":
        return _timing(engine, proc, *args)
    raise ValueError(f"unknown job {kind!r}")


def _set_all(proc, values) -> None:
    for i, v in enumerate(values):
        proc.set_parameter(i, float(v))


def _render(engine, proc, row, note, velocity, hold, duration, n_out) -> bytes:
    _set_all(proc, row)
    proc.add_midi_note(note, velocity, 0.0, hold)
    engine.render(duration)
    audio = engine.get_audio()  # [channels, T]
    return audio.mean(axis=0).astype(np.float32)[:n_out].tobytes()


def _render_texts(engine, proc, row, note, velocity, hold, duration, n_out) -> bytes:
    """A render and the display text of every parameter at those values, from one child."""
    _set_all(proc, row)
    texts = [proc.get_parameter_text(i) for i in range(len(row))]
    proc.add_midi_note(note, velocity, 0.0, hold)
    engine.render(duration)
    audio = engine.get_audio().mean(axis=0).astype(np.float32)[:n_out]
    return pickle.dumps((audio, texts), protocol=pickle.HIGHEST_PROTOCOL)


def _texts(proc, queries) -> bytes:
    texts = []
    for i, v in queries:
        proc.set_parameter(i, float(v))
        texts.append(proc.get_parameter_text(i))
    return pickle.dumps(texts)


def _state(proc, values) -> bytes:
    if values is not None:
        _set_all(proc, values)
    path = f"/tmp/explorer-state-{os.getpid()}.bin"
    proc.save_state(path)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def _timing(engine, proc, row, note, velocity, hold, duration) -> bytes:
    _set_all(proc, row)
    proc.add_midi_note(note, velocity, 0.0, hold)
    t = time.perf_counter()
    engine.render(duration)
    return pickle.dumps(time.perf_counter() - t)


def main() -> None:
    plugin_path, sample_rate, block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # plugin chatter on fd 1 goes to stderr
    proto_in = sys.stdin.buffer

    def reply(obj) -> None:
        pickle.dump(obj, proto_out, protocol=pickle.HIGHEST_PROTOCOL)
        proto_out.flush()

    try:
        engine, proc = _load(plugin_path, sample_rate, block)
        n_params = proc.get_plugin_parameter_size()
    except Exception as exc:  # noqa: BLE001 - any load failure is reported to the host
        reply(("error", f"could not load plugin {plugin_path}: {exc}"))
        return
    _CTX.update(engine=engine, proc=proc)
    reply(("ok", n_params))
    _refill()

    while True:
        try:
            cmd, payload = pickle.load(proto_in)
        except EOFError:
            for child in _spare:
                child.discard()
            return
        try:
            if cmd == "describe":
                result = proc.get_parameters_description()
            elif cmd == "render":
                params, note, velocity, hold, duration = payload
                n_out = round(duration * sample_rate)
                out = np.zeros((len(params), n_out), np.float32)
                for k, row in enumerate(params):
                    job = (row, note, velocity, hold, duration, n_out)
                    buf = np.frombuffer(_forked("render", job), np.float32)
                    out[k, : len(buf)] = buf
                result = out
            elif cmd == "render_texts":  # one row: (audio, texts) from one child
                params, note, velocity, hold, duration = payload
                result = pickle.loads(_forked("render_texts", (params[0], note, velocity, hold, duration,
                                                               round(duration * sample_rate))))
            elif cmd == "text":  # payload: [(index, normalised value)], answered from one fresh child
                result = pickle.loads(_forked("text", payload))
            elif cmd == "state":  # payload: a full vector, or None for the pristine (default) state
                result = _forked("state", payload)
            elif cmd == "timing":  # the plugin's own time for one render, measured in a child
                result = pickle.loads(_forked("timing", payload))
            else:
                raise ValueError(f"unknown command {cmd!r}")
            reply(("ok", result))
        except Exception as exc:  # noqa: BLE001 - reported to the host, the worker keeps serving
            reply(("error", f"{type(exc).__name__}: {exc}"))
        _refill()


if __name__ == "__main__":
    main()
