"""A plugin-hosting worker process ("zygote"): `python -m explorer.synth.worker PLUGIN SR BLOCK`.

Why a zygote: a plugin keeps hidden state between renders (voices, reverb tails, and in amsynth a
process-global noise generator), so two renders of the same parameters in one process differ. This
process loads the plugin once and never renders or touches a parameter itself; every request runs in
a child forked from it, which starts from the pristine loaded state and exits afterwards. Forking costs
a few milliseconds, loading a plugin ~150 ms. The result is bit-identical audio for identical
parameters, whatever was rendered before and in whichever process.

Protocol: pickled (command, payload) tuples on stdin, pickled ("ok", result) or ("error", message) on
the original stdout. The plugin's own prints are sent to stderr so they cannot corrupt the protocol.
"render" answers (audio[N, T], [(row, message)] for the rows whose child died): a plugin may crash on
some parameter values (amsynth 1.13 aborts on an assertion in its square-wave oscillator for the LFO's
second waveform at a few LFO rates), and the worker keeps serving; the message gives the signal and the
child's last stderr line (the assertion).
"""

from __future__ import annotations

import mmap
import os
import pickle
import signal
import sys
import tempfile
import time
import traceback
from functools import partial

import numpy as np


def _load(plugin_path: str, sample_rate: int, block: int):
    import dawdreamer as daw  # imported here: only worker processes load the host library

    engine = daw.RenderEngine(sample_rate, block)
    proc = engine.make_plugin_processor("synth", plugin_path)
    engine.load_graph([(proc, [])])
    return engine, proc


class ChildFailed(RuntimeError):
    """A render child died: the plugin crashed (an assertion, a segfault) or raised."""


_ERRLOG = None  # a file the children's stderr goes to, so a crash's last words reach the host in its message


def _child_output() -> str:
    """What the last child wrote to stderr (the plugin's own message on a crash)."""
    if _ERRLOG is None:
        return ""
    _ERRLOG.seek(0)
    return _ERRLOG.read().decode(errors="replace")


def _forked(fn, out_bytes: int) -> bytes:
    """Run fn() in a forked child; fn returns bytes of length <= out_bytes, passed back through shared memory.
    Raises `ChildFailed` naming the signal or exit code and the child's last stderr line."""
    shm = mmap.mmap(-1, out_bytes + 8)
    if _ERRLOG is not None:
        _ERRLOG.seek(0)
        _ERRLOG.truncate()
    pid = os.fork()
    if pid == 0:  # child: pristine copy of the loaded plugin
        code = 0
        if _ERRLOG is not None:
            os.dup2(_ERRLOG.fileno(), 2)
        try:
            data = fn()
            shm[:8] = len(data).to_bytes(8, "little")
            shm[8 : 8 + len(data)] = data
        except BaseException:  # noqa: BLE001 - the child reports any failure through its exit code
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    said = _child_output()
    if status != 0:
        shm.close()
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        how = (f"the plugin crashed (signal {sig}{f', {signal.Signals(sig).name}' if sig in set(signal.Signals) else ''})"
               if sig is not None else f"the render failed (exit code {os.WEXITSTATUS(status)})")
        last = [ln.strip() for ln in said.splitlines() if ln.strip()]
        raise ChildFailed(how + (f": {last[-1][:300]}" if last else ""))
    if said:
        sys.stderr.write(said)  # the plugin's chatter, as before
    n = int.from_bytes(shm[:8], "little")
    data = bytes(shm[8 : 8 + n])
    shm.close()
    return data


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

    global _ERRLOG
    _ERRLOG = tempfile.TemporaryFile()  # noqa: SIM115 - open for the worker's whole life
    try:
        engine, proc = _load(plugin_path, sample_rate, block)
        n_params = proc.get_plugin_parameter_size()
    except Exception as exc:  # noqa: BLE001 - any load failure is reported to the host
        reply(("error", f"could not load plugin {plugin_path}: {exc}"))
        return
    reply(("ok", n_params))

    while True:
        try:
            cmd, payload = pickle.load(proto_in)
        except EOFError:
            return
        try:
            if cmd == "describe":
                result = proc.get_parameters_description()
            elif cmd == "render":
                params, note, velocity, hold, duration = payload
                n_out = round(duration * sample_rate)
                out, failed = np.zeros((len(params), n_out), np.float32), []
                for k, row in enumerate(params):
                    job = partial(_render, engine, proc, row, note, velocity, hold, duration, n_out)
                    try:
                        buf = np.frombuffer(_forked(job, n_out * 4), np.float32)
                    except ChildFailed as exc:  # this row stays silent; the host decides what that means
                        failed.append((k, str(exc)))
                        continue
                    out[k, : len(buf)] = buf
                result = (out, failed)
            elif cmd == "render_texts":  # one row -> (audio, texts), from one child
                params, note, velocity, hold, duration = payload
                n_out = round(duration * sample_rate)
                job = partial(_render_texts, engine, proc, params[0], note, velocity, hold, duration, n_out)
                result = pickle.loads(_forked(job, n_out * 4 + (1 << 16)))
            elif cmd == "text":  # payload: [(index, normalised value)], answered from one fresh child
                result = pickle.loads(_forked(partial(_texts, proc, payload), 1 << 22))
            elif cmd == "state":  # payload: a full vector, or None for the pristine (default) state
                result = _forked(partial(_state, proc, payload), 1 << 22)
            elif cmd == "timing":  # the plugin's own time for one render, measured in a child
                result = pickle.loads(_forked(partial(_timing, engine, proc, *payload), 1024))
            else:
                raise ValueError(f"unknown command {cmd!r}")
            reply(("ok", result))
        except Exception as exc:  # noqa: BLE001 - reported to the host, the worker keeps serving
            reply(("error", f"{type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    main()
