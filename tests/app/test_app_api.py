"""Every API endpoint of the app through gradio_client, against `python app.py` on a free port.

The app runs as a real subprocess on a debug checkpoint, a tiny latent map of real synth renders, and
the real synth. `app_server` and `make_models` are reused by tests/test_browser.py.
"""

import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_DIMS, N_SEM = 32, 8  # explorer.app.actions.MAX_DIMS / MAX_SEMANTIC


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_models(root, synth, sizes=(16, 30), n_map=40):
    """`root/debug_<P>/model.pt` debug checkpoints, each with a tiny map of real renders."""
    from explorer.app.map_export import build_debug_map
    from explorer.models.checkpoint import make_debug_checkpoint

    for p in sizes:
        d = root / f"debug_{p}"
        d.mkdir(parents=True, exist_ok=True)
        make_debug_checkpoint(str(d / "model.pt"), n_params=p, seed=p)
        build_debug_map(str(d / "model.pt"), synth, n=n_map, seed=p)
    return root


def start_app(root, log, args=(), env=None, port: int | None = None, timeout=120.0, first=None):
    """Start `python app.py` with the checkpoints under `root` (on `port`, else a free one passed as
    `--port`; `port=0`: no flag, the environment decides), opening `first` (default `root/debug_16/model.pt`)
    -> (process, URL) once it serves its page."""
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               **(env or {}))
    cmd = [sys.executable, "app.py", "--checkpoints-dir", str(root), "--checkpoint",
           str(first or root / "debug_16" / "model.pt"), *args]
    if port != 0:
        port = port or free_port()
        cmd += ["--port", str(port)]
    else:
        port = int(env["GRADIO_SERVER_PORT"])
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    t0 = time.time()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited ({proc.returncode}): {Path(log.name).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if time.time() - t0 > timeout:
            proc.kill()
            raise RuntimeError(f"app not up after {timeout} s: {Path(log.name).read_text()[-2000:]}")
        time.sleep(0.3)


def stop_app(proc) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextlib.contextmanager
def app_server(root, log_path, timeout=120.0, args=(), env=None, first=None):
    """Start `python app.py` on a free port with the checkpoints under `root`; yield its URL."""
    with open(log_path, "w") as log:
        proc, url = start_app(root, log, args, env, timeout=timeout, first=first)
        try:
            yield url
        finally:
            stop_app(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory, synth):
    root = make_models(tmp_path_factory.mktemp("ckpts"), synth)
    with app_server(root, tmp_path_factory.mktemp("log") / "app.log") as url:
        yield url, root


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


def main_ok(out, label_start=None):
    """Main outputs: audio, mel, params, overlay, info, status, 32 latent, 8 semantic."""
    audio, mel, params, overlay, _info, status = out[:6]
    assert len(out) == 6 + N_DIMS + N_SEM
    data, sr = sf.read(audio)
    assert sr == 22050 and data.shape == (88200,) and np.abs(data).max() > 0
    for fig in (mel, params):
        assert fig["type"] == "plotly" and json.loads(fig["plot"])["data"]
    assert set(json.loads(overlay)) == {"candidates", "neighbours", "path", "ends", "current"}
    assert not status.startswith("Error"), status
    if label_start:
        assert status.startswith(label_start), status
    return out


def test_endpoints_listed(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    expected = {"/init", "/map_click", "/select_point", "/decode_xy", "/colour_map", "/set_latent",
                "/set_semantic", "/set_dim", "/neighbourhood", "/play_neighbour", "/neighbour_to_current",
                "/set_a", "/set_b", "/interpolate", "/play_step", "/step_to_current", "/audio_in", "/refine",
                "/refine_cancel", "/play_candidate", "/candidate_to_current", "/export_preset", "/load_presets", "/place_preset", "/choose_model", "/current"}
    assert expected <= names, expected - names


def test_init_and_map(client):
    out = client.predict(api_name="/init")
    main_ok(out[:-1])
    fig = json.loads(out[-1]["plot"])
    assert fig["data"][0]["uid"].startswith("ds:")  # dataset groups first (empty groups are left out)
    assert sum(len(t["x"]) for t in fig["data"] if t["uid"].startswith("ds:")) == 40
    out = client.predict("tag: dark / bright", api_name="/colour_map")
    names = {t["name"].split(" (")[0] for t in json.loads(out["plot"])["data"] if t["uid"].startswith("ds:")}
    assert names <= {"untagged", "dark", "bright"}


def test_map_endpoints(client):
    main_ok(client.predict(3, api_name="/select_point"))
    cur = client.predict(api_name="/current")
    assert cur["label"].endswith("(debug)") and cur["xy"] is not None
    out = main_ok(client.predict(0.0, 0.0, api_name="/decode_xy"), "map point (0.00, 0.00)")
    assert json.loads(out[3])["current"][0]
    main_ok(client.predict(json.dumps({"kind": "point", "index": 7}), api_name="/map_click"))
    assert client.predict(api_name="/current")["label"] == client.predict(api_name="/current")["label"]
    # error: a specific message in the status box, and the next call works
    out = client.predict(999, api_name="/select_point")
    assert out[5].startswith("Error: no dataset point 999")
    main_ok(client.predict(1, api_name="/select_point"))


def test_slider_endpoints(client):
    z = [0.1 * (i % 5) for i in range(N_DIMS)]
    out = main_ok(client.predict(*z, api_name="/set_latent"))
    assert np.allclose(out[6:6 + 16], z[:16], atol=1e-5)
    out = main_ok(client.predict(*([1.5] + [0.0] * (N_SEM - 1)), api_name="/set_semantic"))
    assert out[6] == pytest.approx(1.5)  # z0 is the Dark <-> Bright dim of the debug model
    out = main_ok(client.predict(4, -2.0, api_name="/set_dim"))
    assert out[6 + 4] == pytest.approx(-2.0)
    assert client.predict(api_name="/current")["z"][4] == pytest.approx(-2.0)


def test_neighbourhood_and_interpolation(client):
    client.predict(2, api_name="/select_point")
    _strip, _dd, overlay, status = client.predict(0.4, 4, 7, api_name="/neighbourhood")
    assert "4 neighbours" in status and len(json.loads(overlay)["neighbours"][0]) == 4
    audio, _mel, status = client.predict("n1", api_name="/play_neighbour")
    assert sf.read(audio)[0].shape == (88200,) and status == "neighbour n1"
    main_ok(client.predict("n1", api_name="/neighbour_to_current"), "neighbour n1")
    client.predict(5, api_name="/select_point")
    ends, overlay, status = client.predict(api_name="/set_a")
    client.predict(9, api_name="/select_point")
    ends, overlay, status = client.predict(api_name="/set_b")
    assert "**A**" in ends and "(not set)" not in ends
    _strip, traj, _dd, overlay, status = client.predict(4, api_name="/interpolate")
    assert len(json.loads(traj["plot"])["data"]) == 16 and len(json.loads(overlay)["path"][0]) == 4
    audio, _mel, status = client.predict("s3", api_name="/play_step")
    assert sf.read(audio)[0].shape == (88200,)
    main_ok(client.predict("s3", api_name="/step_to_current"), "interpolation step s3")


def test_audio_in_and_refine(client, tmp_path):
    from gradio_client import handle_file

    t = np.arange(44100 * 2) / 44100
    wav = tmp_path / "tone.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100)
    out = client.predict(handle_file(str(wav)), True, False, api_name="/audio_in")
    main_ok(out[:-5])
    assert re.search(r"detected f0 3[23]\d\.\d Hz", out[-1]) and "SC =" in out[-1]  # a 330 Hz tone
    assert sf.read(out[-5])[0].shape == (88200,)
    table = out[-3]
    rows = table["data"]
    assert rows and rows[0][0] == "c0" and {"model", "nearest (log-mel)"} <= {r[1] for r in rows}
    assert rows[0][3] <= min(r[3] for r in rows) * 1.02 + 1e-3  # ranked (pipeline.rank; 3 decimals shown)
    played = client.predict("c1", api_name="/play_candidate")
    assert sf.read(played[0])[0].shape == (88200,) and played[2] == "candidate c1"
    main_ok(client.predict("c1", api_name="/candidate_to_current"), "candidate c1")
    out = client.predict(20, api_name="/refine")
    main_ok(out[:-5])
    assert "refined with 20 renders" in out[-1] and any(r[1] == "refined" for r in out[-3]["data"])
    assert client.predict(api_name="/refine_cancel") == "nothing to cancel"
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF1234WAVEfmt garbage" * 10)
    out = client.predict(handle_file(str(bad)), True, False, api_name="/audio_in")
    assert out[5].startswith("Error: corrupt.wav: not a readable audio file") and "20 MB" in out[5]


def test_presets_round_trip(client, tmp_path):
    from gradio_client import handle_file

    from explorer.synth.presets import read_bank

    client.predict(6, api_name="/select_point")
    files, status = client.predict("Round trip", api_name="/export_preset")
    bank = next(f for f in files if f.endswith(".bank"))
    js = next(f for f in files if f.endswith(".json"))
    assert read_bank(bank)[0].name == "Round trip" and json.loads(Path(js).read_text())["name"] == "Round trip"
    _dd, status = client.predict(handle_file(bank), api_name="/load_presets")
    assert "1 preset(s) loaded" in status
    main_ok(client.predict("000 Round trip", api_name="/place_preset"), "preset: 000 Round trip")
    bad = tmp_path / "bad.bank"
    bad.write_text("amSynth\n<preset> <name> x\n<parameter> amp_attack ???\n")
    _dd, status = client.predict(handle_file(str(bad)), api_name="/load_presets")
    assert status.startswith("Error: bad.bank, line 3")


def test_choose_model(client):
    out = client.predict("debug_30", api_name="/choose_model")
    main_ok(out[:-2])
    assert "30 parameters" in out[5]
    assert client.predict(api_name="/current")["model"] == "debug_30"
    assert len(client.predict(api_name="/current")["z"]) == 30
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="nope is not in the list of choices"):
        client.predict("nope", api_name="/choose_model")
    client.predict("debug_16", api_name="/choose_model")


def test_parameters_named(client):
    """Every endpoint's parameters have real names in view_api (none is `param_N`), and calls by name work."""
    eps = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    names = {ep: [p["parameter_name"] for p in v["parameters"]] for ep, v in eps.items()}
    unnamed = {ep: n for ep, n in names.items() if any(not x or x.startswith("param") for x in n)}
    assert not unnamed, unnamed
    assert names["/select_point"] == ["index"] and names["/decode_xy"] == ["x", "y"]
    assert names["/set_dim"] == ["dim", "value"] and names["/neighbourhood"] == ["sigma", "count", "seed"]
    assert names["/set_latent"] == [f"z{i}" for i in range(N_DIMS)]
    assert names["/set_semantic"] == [f"s{i}" for i in range(N_SEM)]
    assert names["/interpolate"] == ["steps"] and names["/play_neighbour"] == ["neighbour"]
    assert names["/play_step"] == ["step"] and names["/audio_in"][0] == "audio"
    main_ok(client.predict(index=4, api_name="/select_point"))
    out = main_ok(client.predict(dim=2, value=0.75, api_name="/set_dim"))
    assert out[6 + 2] == pytest.approx(0.75)


def test_identical_downloads_whole(server):
    """Several sessions asking for the same sound at the same moment each download it whole (gradio
    issue 8878: the cache file was rewritten in place while another session's download was served)."""
    import threading

    from gradio_client import Client

    n, rounds = 6, 3
    clients = [Client(server[0], verbose=False) for _ in range(n)]
    barrier = threading.Barrier(n)
    results: list = []

    def fetch(c, r):
        barrier.wait()
        out = c.predict(10 + r, api_name="/select_point")
        results.append((r, Path(out[0]).read_bytes()))

    try:
        for r in range(rounds):
            threads = [threading.Thread(target=fetch, args=(c, r)) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        for c in clients:
            c.close()
    assert len(results) == n * rounds
    for r in range(rounds):
        wavs = {data for rr, data in results if rr == r}
        assert len(wavs) == 1  # the same bytes for every session
        data, sr = sf.read(io.BytesIO(wavs.pop()))
        assert sr == 22050 and data.shape == (88200,)


def docs_example() -> str:
    """The gradio_client example of docs/APP.md (the python block after 'API example')."""
    text = Path(ROOT, "docs", "APP.md").read_text()
    return re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.DOTALL).group(1)


def test_docs_example_runs(server, capsys):
    code = docs_example().replace("http://127.0.0.1:7860/", server[0]).replace("index=42", "index=7")
    exec(compile(code, "docs/APP.md", "exec"), {})  # noqa: S102 - our own documentation's example
    out = capsys.readouterr().out
    assert "audio.wav neighbour n3" in out and "My_sound.bank" in out
