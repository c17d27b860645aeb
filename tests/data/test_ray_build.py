"""Rendering a dataset on Ray actors gives the same bytes as the local process pool.

A real local Ray instance (2 CPUs, no dashboard, loopback only) and the real plugin; the tests that need
no Ray run first. The whole file takes ~30-40 s on the 2-core CI machine.
"""

import filecmp
import json
import os
import subprocess
import sys

import pytest

# a one-machine Ray listens on loopback only; read when ray is imported, so set before any import of it
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from explorer.data.dataset import build, main
from explorer.synth import ray_pool
from explorer.synth.host import Synth, SynthError
from explorer.synth.ray_pool import RayBackend

FILES = ("mels.npy", "params.npy", "full_params.npy", "split.npy", "tags.npy", "descriptors.npy",
         "category.npy", "index.json")
BUILD = ["build", "--params", "16", "--size", "40", "--seed", "5", "--limit", "24", "--workers", "2"]


def test_the_local_path_never_imports_ray():
    code = ("import sys; import explorer.data.dataset, explorer.synth.host, explorer.synth.ray_pool;"
            "assert 'ray' not in sys.modules, 'ray imported'")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=root)


def test_ray_not_installed(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(SynthError, match=r"not installed.*pip install ray==2\.60\.0"):
        Synth(workers=1, backend=RayBackend("local"))
    assert main(BUILD + ["--out", str(tmp_path / "x"), "--ray", "local"]) == 2
    assert "not installed" in capsys.readouterr().err


def test_bad_and_unreachable_addresses(tmp_path, capsys):
    import ray

    assert not ray.is_initialized()  # an initialised Ray would be reused whatever the address
    with pytest.raises(SynthError, match="bad Ray address"):
        RayBackend("nowhere").connect()
    # nothing listens on port 1: a clear error at once (ray.init alone would retry for minutes)
    assert main(BUILD + ["--out", str(tmp_path / "x"), "--ray", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect to the Ray cluster at 127.0.0.1:1" in err and "ray start --head" in err


@pytest.fixture(scope="module")
def local_ray():
    """One light local Ray for the module, started the way `--ray local` starts it, then shut down."""
    backend = RayBackend("local", init_kwargs={"num_cpus": 2, "object_store_memory": 128 << 20})
    ray = backend.connect()
    yield ray
    backend.close()
    assert not ray.is_initialized()


@pytest.mark.timeout(180)
def test_ray_build_is_byte_identical_to_the_local_pool(local_ray, tmp_path):
    build("16", str(tmp_path / "local"), size=40, seed=5, limit=24, workers=2)
    assert main(BUILD + ["--out", str(tmp_path / "ray"), "--ray", "local"]) == 0
    assert local_ray.is_initialized()  # the build reused the running instance and left it up
    for f in FILES:
        assert filecmp.cmp(tmp_path / "local" / f, tmp_path / "ray" / f, shallow=False), f
    a, b = (json.loads((tmp_path / d / "meta.json").read_text()) for d in ("local", "ray"))
    for volatile in ("build_seconds", "created"):
        a.pop(volatile), b.pop(volatile)
    assert a == b and a["n"] > 20


@pytest.mark.timeout(120)
def test_synth_api_and_errors_through_ray(local_ray, synth, monkeypatch):
    import numpy as np

    with Synth(workers=2, backend=RayBackend("local")) as remote:
        assert remote.workers == 2 and remote.n_params == synth.n_params
        assert remote.params == synth.params
        v = np.random.default_rng(7).random((3, synth.n_params))
        v[:, 4] = 0.75  # osc1 = noise: amsynth's global noise generator must not carry over
        assert np.array_equal(remote.render(v), synth.render(v))
        assert remote.texts(v[0]) == synth.texts(v[0])
        with pytest.raises(SynthError, match=r"shape \[N, 41\]"):
            remote.render(np.zeros((2, 16)))
        # both CPUs are taken: a third actor cannot be placed, and that is said instead of waiting forever
        with monkeypatch.context() as m, pytest.raises(SynthError, match="did not start within 2 s; the "
                                                       "cluster had 0 free CPUs"):
            m.setattr(ray_pool, "START_TIMEOUT", 2.0)
            Synth(workers=1, backend=RayBackend("local"))
        assert remote.render(v[:1]).shape == (1, 88200)
    with pytest.raises(SynthError, match="not found on Ray node .*/nonexistent/plugin.so"):
        Synth("/nonexistent/plugin.so", workers=1, backend=RayBackend("local"))
    assert local_ray.is_initialized()
