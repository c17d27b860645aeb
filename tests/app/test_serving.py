"""Serving many users (explorer/app/serving.py): host and port from Gradio's environment variables, one
temp folder removed after SIGTERM, sessions dropped when closed or idle, whole files under concurrency.

One real `python app.py` (debug checkpoints, real synth) with GRADIO_SERVER_PORT / GRADIO_TEMP_DIR set and a
short idle time; waits are on events (log lines, the process's exit), never on fixed timings.
"""

import os
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_app_api import ROOT, free_port, main_ok, make_models, start_app, stop_app

sys.path.insert(0, ROOT)


def wait_for(pred, what: str, timeout: float = 120.0, every: float = 0.2):
    """Wait until `pred()` is true (an event, e.g. a log line); the timeout only stops a hung test."""
    t0 = time.time()
    while not pred():
        if time.time() - t0 > timeout:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="module")
def app(tmp_path_factory, synth):
    root = make_models(tmp_path_factory.mktemp("ckpts"), synth, sizes=(16,))
    temp = tmp_path_factory.mktemp("gradio_temp")
    log_path = tmp_path_factory.mktemp("log") / "app.log"
    port = free_port()
    env = {"GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_TEMP_DIR": str(temp)}
    with open(log_path, "w") as log:
        proc, url = start_app(root, log, args=["--session-ttl", "8"], env=env, port=0)
        try:
            yield {"proc": proc, "url": url, "port": port, "temp": temp, "log": log_path}
        finally:
            if proc.poll() is None:
                stop_app(proc)


def log_count(app, pattern: str) -> int:
    return len(re.findall(pattern, Path(app["log"]).read_text()))


def test_env_host_and_port(app):
    """GRADIO_SERVER_PORT / GRADIO_SERVER_NAME are honoured (the app was started without --port)."""
    assert app["url"] == f"http://127.0.0.1:{app['port']}/"


def test_flags_and_env_precedence(monkeypatch):
    import app as app_module

    for var in ("EXPLORER_HOST", "EXPLORER_PORT", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT"):
        monkeypatch.delenv(var, raising=False)
    a = app_module.parse_args([])
    assert (a.host, a.port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7001")
    a = app_module.parse_args([])
    assert (a.host, a.port) == ("0.0.0.0", 7001)
    monkeypatch.setenv("EXPLORER_PORT", "7002")  # the app's own variable before Gradio's
    assert app_module.parse_args([]).port == 7002
    a = app_module.parse_args(["--port", "7003", "--host", "localhost"])  # a flag wins
    assert (a.host, a.port) == ("localhost", 7003)


def test_session_closed_and_idle_dropped(app):
    from gradio_client import Client

    # closed: the client's heartbeat ends -> unload -> the session's whole state is dropped
    c = Client(app["url"], verbose=False)
    main_ok(c.predict(index=3, api_name="/select_point"))
    n_closed = log_count(app, r"session ended \(closed\)")
    c.close()
    wait_for(lambda: log_count(app, r"session ended \(closed\)") > n_closed, "the closed session to end")

    # idle: no event for --session-ttl seconds -> dropped; the next call starts afresh at the origin
    c = Client(app["url"], verbose=False)
    try:
        main_ok(c.predict(index=5, api_name="/select_point"))
        assert c.predict(api_name="/current")["label"].endswith("(debug)")
        n_idle = log_count(app, r"idle session\(s\) ended")
        wait_for(lambda: log_count(app, r"idle session\(s\) ended") > n_idle, "the idle session to end")
        assert c.predict(api_name="/current")["label"] == "latent origin (z = 0)"
        main_ok(c.predict(index=6, api_name="/select_point"))  # and it goes on working
    finally:
        c.close()


def test_exports_in_app_temp_folder(app):
    """Exports and cached sounds live in the app's own folder under GRADIO_TEMP_DIR, one copy each."""
    from gradio_client import Client

    c = Client(app["url"], verbose=False)
    try:
        c.predict(index=2, api_name="/select_point")
        c.predict(name="Same", api_name="/export_preset")
        c.predict(name="Same", api_name="/export_preset")
    finally:
        c.close()
    ours = list(Path(app["temp"]).glob("flowsynth-*"))
    assert len(ours) == 1
    banks = list(ours[0].rglob("Same.bank"))
    assert len(banks) == 1 and banks[0].read_text().startswith("amSynth")
    assert list(ours[0].rglob("audio.wav"))


def test_sigterm_removes_temp_files(app):
    """A normal stop (SIGTERM) removes every file of the app's; the process exits cleanly."""
    assert list(Path(app["temp"]).glob("flowsynth-*"))
    assert stop_app(app["proc"]) == 0
    assert list(Path(app["temp"]).iterdir()) == []


def test_stale_temp_folder_removed(tmp_path):
    """A folder left by a killed run (its process gone) is removed; a live process's folder is kept."""
    import subprocess

    from explorer.app import serving

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    dead = tmp_path / f"flowsynth-{p.pid}-abc"
    (dead / "gradio").mkdir(parents=True)
    alive = tmp_path / f"flowsynth-{os.getppid()}-def"
    alive.mkdir()
    other = tmp_path / "flowsynth-app-xyz"  # not ours: no pid in the name
    other.mkdir()
    assert serving.remove_stale(str(tmp_path)) == [str(dead)]
    assert not dead.exists() and alive.exists() and other.exists()


def test_atomic_cache_concurrent_writers_and_readers(tmp_path):
    """Many threads write the same sound into the cache while others read it: every read is whole."""
    from explorer.app import serving

    rng = np.random.default_rng(0)
    data = (rng.standard_normal(88200) * 8000).astype(np.int16)
    path = Path(serving.save_audio_to_cache(data, 22050, "wav", str(tmp_path)))
    size = path.stat().st_size
    path.unlink()
    bad, stop = [], threading.Event()

    def write():
        for _ in range(30):
            serving.save_audio_to_cache(data, 22050, "wav", str(tmp_path))
            path.unlink(missing_ok=True)  # force a rewrite next time

    def read():
        while not stop.is_set():
            try:
                got = path.read_bytes()
            except FileNotFoundError:
                continue
            if len(got) != size:
                bad.append(len(got))

    readers = [threading.Thread(target=read) for _ in range(3)]
    writers = [threading.Thread(target=write) for _ in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert bad == []
    import soundfile as sf

    out = serving.save_audio_to_cache(data, 22050, "wav", str(tmp_path))
    back, sr = sf.read(out, dtype="int16")
    assert sr == 22050 and np.array_equal(back, data)
    assert [p.name for p in Path(out).parent.iterdir()] == ["audio.wav"]  # no temporary files left
