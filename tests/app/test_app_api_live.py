"""Issue 14's endpoints through gradio_client against `python app.py` (debug models, real synth): drag
previews, audition at a note, find, history, favourites, A/B; bad inputs give a message, the app goes on."""

import json

import numpy as np
import pytest
import soundfile as sf
import test_app_api
from test_app_api import N_DIMS, N_SEM, main_ok

server = test_app_api.server  # the app on debug models (module fixture)


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


def test_new_endpoints_listed(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    expected = {"/drag_latent", "/drag_semantic", "/audition", "/play_key", "/search", "/find_pick", "/back",
                "/forward", "/history_go", "/favourite_add", "/favourite_remove", "/favourite_go",
                "/favourites_export", "/ab"}
    assert expected <= names, expected - names


def test_drag_preview_changes_no_state(client):
    main_ok(client.predict(api_name="/init")[:-1])
    before = client.predict(api_name="/current")
    drag, _audio, status = client.predict(False, 1.2, *[0.0] * (N_SEM - 1), api_name="/drag_semantic")
    d = json.loads(drag)
    assert np.array(d["mel"]).shape == (64, 80) and len(d["params"]) == 41 and "drag preview" in d["title"]
    assert not str(status).startswith("Error")
    assert client.predict(api_name="/current")["z"] == before["z"]  # only the release commits
    drag, audio, _ = client.predict(True, *([0.5] + [0.0] * (N_DIMS - 1)), api_name="/drag_latent")
    assert sf.read(audio)[0].shape == (88200,) and "rendered while dragging" in json.loads(drag)["title"]


def test_audition_and_keys(client):
    _st_audio, info, status, _note = client.predict(72, 90, api_name="/audition")
    assert "note 72" in info and "C5" in status
    out = client.predict(json.dumps({"note": 64, "t": 1}), 100, api_name="/play_key")
    assert "at note 64" in out[2] and out[3] == 64
    out = client.predict(json.dumps({"note": 200}), 100, api_name="/play_key")
    assert out[2].startswith("Error: note must be a MIDI note")
    # the next sound plays at the chosen note
    out = main_ok(client.predict(5, api_name="/select_point"))
    assert "note 64" in out[4]
    client.predict(60, 100, api_name="/audition")


def test_search_and_pick(client):
    _, status = client.predict("debug 00", api_name="/search")
    assert "match" in status
    out = client.predict("7: x", api_name="/find_pick")
    ov = json.loads(out[3])  # the star's move plus a request to centre the map on it
    assert not out[5].startswith("Error") and ov["centre"] == pytest.approx([c[0] for c in ov["current"]], abs=1e-3)
    assert client.predict(api_name="/current")["label"].endswith("007 (debug)")
    out = client.predict("nonsense", api_name="/find_pick")
    assert out[5].startswith("Error: not a search result")


def test_history_and_favourites(client, tmp_path):
    from explorer.synth.presets import read_bank

    labels = []
    for i in (2, 4):
        main_ok(client.predict(i, api_name="/select_point"))
        labels.append(client.predict(api_name="/current")["label"])
        assert client.predict("", api_name="/favourite_add")[-1].startswith("kept")
    out = client.predict(api_name="/back")
    assert client.predict(api_name="/current")["label"] == labels[0]
    out = client.predict(api_name="/forward")
    assert client.predict(api_name="/current")["label"] == labels[1]
    out = client.predict(api_name="/forward")
    assert out[5].startswith("Error: nothing further forward")
    files, status = client.predict("my favourites", api_name="/favourites_export")
    bank = next(f for f in files if f.endswith(".bank"))
    assert [p.name for p in read_bank(bank)] == labels and "exported 2" in status


def test_ab(client):
    main_ok(client.predict(6, api_name="/select_point"))
    a, b, _fig, text, status = client.predict(api_name="/ab")
    assert sf.read(a)[0].shape == sf.read(b)[0].shape == (88200,)
    assert "original preset" in text and status.startswith("A/B: SC")
    main_ok(client.predict(0.0, 0.0, api_name="/decode_xy"))
    out = client.predict(api_name="/ab")
    assert out[-1].startswith("Error:") and "latent space" in out[-1]
