"""Every API endpoint of the app through gradio_client, against `python app.py` on a free port.

The app runs as a real subprocess on a debug checkpoint, a tiny latent map of real synth renders, and
the real synth. `app_server` and `make_models` are reused by tests/test_browser.py.
"""

import contextlib
import json
import os
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


@contextlib.contextmanager
def app_server(root, log_path, timeout=120.0, first=None):
    """Start `python app.py` on a free port with the checkpoints under `root` (opening `first`, default
    `root/debug_16/model.pt`); yield its URL."""
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    log = open(log_path, "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--checkpoints-dir", str(root), "--checkpoint",
         str(first or root / "debug_16" / "model.pt"), "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        t0 = time.time()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited ({proc.returncode}): {Path(log_path).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() - t0 > timeout:
                raise RuntimeError(f"app not up after {timeout} s: {Path(log_path).read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
    assert set(json.loads(overlay)) == {"neighbours", "path", "ends", "current"}
    assert not status.startswith("Error"), status
    if label_start:
        assert status.startswith(label_start), status
    return out


def test_endpoints_listed(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    expected = {"/init", "/map_click", "/select_point", "/decode_xy", "/colour_map", "/set_latent",
                "/set_semantic", "/set_dim", "/neighbourhood", "/play_neighbour", "/neighbour_to_current",
                "/set_a", "/set_b", "/interpolate", "/play_step", "/step_to_current", "/audio_in", "/refine",
                "/export_preset", "/load_presets", "/place_preset", "/choose_model", "/current"}
    assert expected <= names, expected - names


def test_init_and_map(client):
    out = client.predict(api_name="/init")
    main_ok(out[:-1])
    fig = json.loads(out[-1]["plot"])
    assert fig["data"][0]["uid"] == "ds:0"
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
    main_ok(out[:-3])
    assert "detected f0 33" in out[-1] and "SC =" in out[-1]
    assert sf.read(out[-3])[0].shape == (88200,)
    out = client.predict(20, api_name="/refine")
    main_ok(out[:-3])
    assert "refined with 20 renders" in out[-1]
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
