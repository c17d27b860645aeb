import subprocess
import sys

import numpy as np
import pytest

from explorer.synth.host import Synth, SynthError


def test_spec_read_from_plugin(synth):
    params = synth.params
    assert len(params) == synth.n_params == 41
    assert [p.index for p in params] == list(range(41))
    by_name = {p.name: p for p in params}
    assert by_name["osc1_waveform"].steps == 5  # sine, pulse, saw, noise, random
    assert by_name["filter_slope"].steps == 2
    assert by_name["filter_cutoff"].steps == 0
    assert sum(p.discrete for p in params) == 10


def test_render_shape_and_sound(synth, pmap):
    from explorer.synth.presets import read_all_banks

    presets = read_all_banks()[:3]
    audio = synth.render(np.stack([pmap.to_normalised(p.raw) for p in presets]))
    assert audio.shape == (3, 88200) and audio.dtype == np.float32
    assert np.all(np.abs(audio).max(1) > 1e-3)  # something is audible


def test_bit_identical_whatever_came_before(synth):
    rng = np.random.default_rng(2)
    a, b = rng.random((2, 41))
    a[4] = 0.75  # osc1 = noise: amsynth's global noise generator must not carry over
    first = synth.render(np.stack([a, b, a]))
    assert np.array_equal(first[0], first[2])
    assert not np.array_equal(first[0], first[1])
    again = synth.render(a[None])[0]
    assert np.array_equal(first[0], again)


def test_bit_identical_across_processes(synth, tmp_path):
    v = np.random.default_rng(3).random(41)
    np.save(tmp_path / "v.npy", v)
    code = (
        "import numpy as np, sys; sys.path.insert(0, '.');"
        "from explorer.synth.host import Synth;"
        f"s = Synth(workers=1); np.save(r'{tmp_path}/a.npy', s.render_one(np.load(r'{tmp_path}/v.npy')))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=".", capture_output=True)
    assert np.array_equal(np.load(tmp_path / "a.npy"), synth.render_one(v))


def test_missing_plugin_error():
    with pytest.raises(SynthError) as e:
        Synth("/nonexistent/plugin.so", workers=1)
    msg = str(e.value)
    assert "/nonexistent/plugin.so" in msg and "apt-get install amsynth" in msg


def test_unloadable_plugin_error(tmp_path):
    bad = tmp_path / "broken.so"
    bad.write_bytes(b"not a plugin")
    with pytest.raises(SynthError) as e:
        Synth(str(bad), workers=1)
    assert str(bad) in str(e.value)


def test_wrong_shape_and_nan_rejected_and_host_keeps_working(synth):
    with pytest.raises(SynthError, match=r"shape \[N, 41\]"):
        synth.render(np.zeros((2, 16)))
    with pytest.raises(SynthError, match="NaN"):
        synth.render(np.full((1, 41), np.nan))
    assert synth.render(np.full((1, 41), 0.5)).shape == (1, 88200)



def test_a_plugin_crash_names_the_row_and_the_plugin_message_and_the_host_keeps_serving(synth, pmap, crash_vector):
    ok, bad = pmap.to_normalised({}), crash_vector
    first = synth.render(ok[None])[0]
    with pytest.raises(SynthError) as e:
        synth.render(np.stack([ok, bad, ok]))
    msg = str(e.value)
    assert "1 of 3" in msg and "row 1" in msg and "SIGABRT" in msg and "Assertion" in msg
    assert ".local" not in msg  # not the plugin's start-up chatter
    failed: list[int] = []
    audio = synth.render(np.stack([bad, ok, bad]), failed=failed)
    assert failed == [0, 2] and not audio[0].any() and not audio[2].any()
    assert np.array_equal(audio[1], first) and np.array_equal(synth.render(ok[None])[0], first)
    with pytest.raises(SynthError, match="crashed"):
        synth.render_with_texts(bad)

