"""Shared fixtures: one real synth host per test session (the plugin is real, never mocked)."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def synth():
    from explorer.synth.host import Synth

    s = Synth(workers=2)
    yield s
    s.close()


@pytest.fixture(scope="session")
def pmap(synth):
    from explorer.synth.presets import ParamMap

    return ParamMap.from_synth(synth)


@pytest.fixture
def one_thread():
    """Tiny models: one torch thread avoids OpenMP spin-waits on a shared 2-core machine (10x faster)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def crash_vector(synth, pmap):
    """A parameter vector the plugin crashes on: amsynth 1.13 aborts its render (an assertion in its square-wave
    oscillator, SIGABRT) on its initial preset with the LFO's second waveform at exactly this LFO rate; the
    matching pipeline's search ran into it on an out-of-domain voice. If a newer amsynth renders it, the
    crash tests fail and need another vector."""
    v = pmap.to_normalised({})
    v[synth.param_index("lfo_freq")] = 0.06119338666234566
    v[synth.param_index("lfo_waveform")] = 1 / 6
    return v
