"""Serving many users: one app-owned temp folder, sessions that end, and whole files for everyone.

- `make_temp_root()`: every file the app and Gradio write (Gradio's cache, exports, uploads) goes under one
  folder `flowsynth-<pid>-*` in the system temp dir (or in `GRADIO_TEMP_DIR` when set), removed when the
  process exits normally (Ctrl-C, SIGTERM: `handle_sigterm`); folders of earlier runs whose process is gone
  are removed at start.
- `SessionReaper`: Gradio keeps, per session, the `gr.State` values *and* the last value of every output
  (for deep links: the map figure alone is megabytes) until its state holder is full (10,000 sessions). The
  reaper drops a session's whole record when the session ends (`demo.unload`: tab or client closed; after
  a grace of min(60 s, ttl / 2) without a new event, since a heartbeat that merely reconnects also fires
  unload) or has been idle (no event) for `ttl` seconds. A user who comes back later starts afresh.
- `install_atomic_cache()`: Gradio writes an output sound into its cache at a path named by the sound's
  hash, in place (`processing_utils.save_audio_to_cache`, `save_bytes_to_cache`). When several sessions
  produce the same sound at once, one truncates and rewrites the file while another's download of it is
  being served: "Too little data for declared Content-Length" (gradio issue 8878). The replacements write
  to a private temporary file in the same folder and rename it into place, so a path, once it exists,
  always holds the whole file; a file already there is reused (and touched, so `delete_cache` ages it from
  its last use).
"""

from __future__ import annotations

import atexit
import datetime
import hashlib
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np

from explorer import cli

log = logging.getLogger("flowsynth.app")
PREFIX = "flowsynth-"


# -- the app's temp folder ------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(base: str) -> list[str]:
    """Remove `base/flowsynth-<pid>-*` folders whose process no longer runs (a run that was killed)."""
    gone = []
    for p in Path(base).glob(f"{PREFIX}*-*"):
        pid = p.name[len(PREFIX):].split("-", 1)[0]
        if p.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            gone.append(str(p))
    return gone


def make_temp_root() -> str:
    """Create the app's temp folder, point Gradio (GRADIO_TEMP_DIR) and `tempfile` at it, remove it at exit.

    Call before any Gradio component is made (Gradio reads GRADIO_TEMP_DIR when a block is created)."""
    base = os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    for p in remove_stale(base):
        log.info("removed the temp folder of an earlier run: %s", p)
    root = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)
    os.environ["GRADIO_TEMP_DIR"] = os.path.join(root, "gradio")
    os.makedirs(os.environ["GRADIO_TEMP_DIR"])
    tempfile.tempdir = root  # this process's own temp files (e.g. torch, soundfile) land here too
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def setup_process(arenas: int = 2) -> None:
    """SIGTERM ends the app like Ctrl-C (Gradio closes the server, then the exit handlers run); glibc's
    malloc keeps at most `arenas` arenas (default: 8 per core, one per busy thread, each keeping its
    high-water mark: the app's RSS grew with every new request thread). Call before any Gradio Blocks
    exists: Gradio's queue rebuilds a pandas table of its last 10,000 events after every event, for a
    monitoring summary this app never shows (4 % of the app's CPU in a short load run, growing with the
    events recorded), so unless set otherwise it is recomputed every 1,000 events, over the last 1,000.
    BLAS (NumPy's OpenBLAS) runs one thread unless `OPENBLAS_NUM_THREADS` says otherwise: the app's matrices
    are small, requests run side by side, and OpenBLAS's idle threads spin: with its default of one
    thread per core a neighbourhood cost 141 ms of the app's CPU instead of 50, `/current` 68 instead of 11
    (`benchmarks/app_load.py cost`)."""
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    cli.one_blas_thread()  # the synth workers, started later, inherit it

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    if _libc() is not None:
        _libc().mallopt(-8, arenas)  # M_ARENA_MAX


def _libc():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return None


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc `malloc_trim`), e.g. after sessions ended."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


# -- whole files in Gradio's cache ------------------------------------------------------------------
def _write_atomic(target: Path, write) -> str:
    """Write `target` through `write(tmp_path)` and a rename; an existing `target` is reused."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        try:
            os.utime(target)  # `delete_cache` ages files by ctime: count from this use
        except OSError:
            pass
        return str(target.resolve())
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(target.resolve())


def _write_wav16(path: str, sample_rate: int, data: np.ndarray) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1 if data.ndim == 1 else data.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(np.ascontiguousarray(data, "<i2").tobytes())


def save_audio_to_cache(data: np.ndarray, sample_rate: int, format: str, cache_dir: str) -> str:
    """Drop-in for `gradio.processing_utils.save_audio_to_cache`: same name scheme, written atomically."""
    from gradio import processing_utils as pu

    meta = {"cache_schema": "audio-cache-v1", "dtype": str(data.dtype), "format": format,
            "sample_rate": int(sample_rate), "shape": data.shape}
    h = hashlib.sha256()
    h.update(pu.hash_seed)
    h.update(json.dumps(meta, sort_keys=True).encode("utf-8"))
    h.update(data.tobytes())
    target = Path(cache_dir) / h.hexdigest() / f"audio.{format}"
    if format == "wav" and data.dtype == np.int16:  # the app's own sounds: no pydub round trip
        return _write_atomic(target, lambda tmp: _write_wav16(tmp, sample_rate, data))
    return _write_atomic(target, lambda tmp: pu.audio_to_file(sample_rate, data, tmp, format=format))


def save_bytes_to_cache(data: bytes, file_name: str, cache_dir: str) -> str:
    """Drop-in for `gradio.processing_utils.save_bytes_to_cache`, written atomically."""
    from gradio import processing_utils as pu

    if not Path(file_name).suffix:
        file_name += pu.detect_audio_format(data)
    target = Path(cache_dir) / pu.hash_bytes(data) / Path(file_name).name
    return _write_atomic(target, lambda tmp: Path(tmp).write_bytes(data))


def write_cached(cache_dir: str, name: str, data: bytes) -> str:
    """A file of ours (e.g. an export) in Gradio's cache, named by its content: served without a copy,
    aged out by `delete_cache`, whole for any number of concurrent readers."""
    return _write_atomic(Path(cache_dir) / hashlib.sha256(data).hexdigest()[:32] / name,
                         lambda tmp: Path(tmp).write_bytes(data))


def install_atomic_cache() -> None:
    from gradio import processing_utils as pu

    pu.save_audio_to_cache = save_audio_to_cache
    pu.save_bytes_to_cache = save_bytes_to_cache


def launch(demo, kw: dict, host: str, port: int, session_ttl: float, cache_age: float, concurrency: int):
    """Serve `demo`: sessions end (`SessionReaper`), cached outputs older than `cache_age` seconds are
    removed every minute, `concurrency` runs of each event at once; blocks until Ctrl-C or SIGTERM."""
    install_atomic_cache()
    reaper = SessionReaper(demo, session_ttl)
    demo.delete_cache = (int(max(1, min(60, cache_age))), int(cache_age))
    try:
        demo.queue(default_concurrency_limit=concurrency).launch(
            server_name=host, server_port=port, max_file_size="25mb", show_error=True, **kw)
    finally:
        reaper.stop()
    return reaper


# -- sessions ---------------------------------------------------------------------------------------
class SessionReaper:
    """Drop a session's whole state when it ends (`demo.unload`) or after `ttl` idle seconds."""

    def __init__(self, demo, ttl: float, interval: float | None = None):
        self.demo, self.ttl = demo, float(ttl)
        self.interval = interval or max(1.0, min(10.0, self.ttl / 4))
        self.grace = min(60.0, self.ttl / 2)
        self.closed: dict[str, float] = {}  # session -> when its unload came
        self.dropped = self._trimmed_at = 0
        import gradio as gr

        def on_unload(request):
            if request is not None and request.session_hash:
                self.closed[request.session_hash] = time.time()
        on_unload.__annotations__ = {"request": gr.Request, "return": None}  # Gradio passes the request
        demo.unload(on_unload)
        self._stop = threading.Event()
        threading.Thread(target=self._loop, name="session-reaper", daemon=True).start()

    def _busy(self, session_hash: str) -> bool:
        queue = getattr(self.demo, "_queue", None)
        return bool(queue and queue.pending_event_ids_session.get(session_hash))

    def drop(self, session_hash: str) -> bool:
        holder = getattr(self.demo, "state_holder", None)
        if holder is None or session_hash not in holder.session_data:
            return False
        holder.delete_state(session_hash)  # runs each gr.State's delete_callback
        with holder.lock:
            holder.session_data.pop(session_hash, None)
            holder.time_last_used.pop(session_hash, None)
        self.dropped += 1
        return True

    def sweep(self) -> int:
        holder = getattr(self.demo, "state_holder", None)
        if holder is None:
            return 0
        now, n = time.time(), 0
        for sid, at in list(self.closed.items()):
            last = holder.time_last_used.get(sid)
            if last is None or last.timestamp() > at:  # gone already, or back (a reconnected heartbeat)
                self.closed.pop(sid, None)
            elif now - at > self.grace and not self._busy(sid):
                self.closed.pop(sid, None)
                if self.drop(sid):
                    log.info("session ended (closed); %d open", self.sessions())
        for sid, last in list(holder.time_last_used.items()):
            if self._busy(sid):  # idle time counts from the end of its last event
                holder.time_last_used[sid] = datetime.datetime.now()
            elif now - last.timestamp() > self.ttl:
                self.closed.pop(sid, None)
                n += self.drop(sid)
        return n

    def sessions(self) -> int:
        holder = getattr(self.demo, "state_holder", None)
        return 0 if holder is None else len(holder.session_data)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if n := self.sweep():
                    log.info("%d idle session(s) ended (%d open)", n, self.sessions())
                if self.dropped != self._trimmed_at:  # sessions ended since the last trim
                    self._trimmed_at = self.dropped
                    release_memory()
            except Exception:  # the sweep must never stop; the next one tries again
                log.exception("session sweep failed")

    def stop(self) -> None:
        self._stop.set()
