"""Metrics against independent numpy/scipy computations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from explorer.evaluate import metrics


@pytest.fixture
def mels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.gamma(0.5, 2.0, size=(3, 64, 80))
    y = rng.gamma(0.5, 2.0, size=(3, 64, 80))
    y[1, :10] = 0.0  # some exact zeros in the output
    return x, y


def test_sc_silence_is_exactly_one(mels):
    x, _ = mels
    sc = metrics.spectral_convergence(x, np.zeros_like(x))
    assert np.all(sc == 1.0)
    # float32 input too
    assert np.all(metrics.spectral_convergence(x.astype(np.float32), np.zeros((3, 64, 80), np.float32)) == 1.0)


def test_sc_perfect_is_zero_and_silent_target(mels):
    x, _ = mels
    assert np.all(metrics.spectral_convergence(x, x) == 0.0)
    z = np.zeros((1, 64, 80))
    assert metrics.spectral_convergence(z, z)[0] == 0.0
    assert np.isinf(metrics.spectral_convergence(z, x[:1])[0])


def test_against_numpy(mels):
    x, y = mels
    X, Y = np.sqrt(x), np.sqrt(y)
    sc = [np.linalg.norm(Y[i] - X[i]) / np.linalg.norm(X[i]) for i in range(3)]
    np.testing.assert_allclose(metrics.spectral_convergence(x, y), sc, rtol=1e-10)
    mse = [np.mean((Y[i] - X[i]) ** 2) for i in range(3)]
    np.testing.assert_allclose(metrics.magnitude_mse(x, y), mse, rtol=1e-10)
    l1 = [np.mean(np.abs(np.log(y[i] + 1e-3) - np.log(x[i] + 1e-3))) for i in range(3)]
    np.testing.assert_allclose(metrics.log_mel_l1(x, y), l1, rtol=1e-10)
    lsd = []
    for i in range(3):
        d = 10 * np.log10((y[i] + 1e-10) / (x[i] + 1e-10))  # [M, F]
        lsd.append(np.mean(np.sqrt(np.mean(d**2, axis=0))))
    np.testing.assert_allclose(metrics.log_spectral_distance(x, y), lsd, rtol=1e-10)
    mf = []
    for i in range(3):
        cx = scipy.fft.dct(10 * np.log10(np.maximum(x[i], 1e-10)), type=2, norm="ortho", axis=0)[:20]
        cy = scipy.fft.dct(10 * np.log10(np.maximum(y[i], 1e-10)), type=2, norm="ortho", axis=0)[:20]
        mf.append(np.mean(np.linalg.norm(cy - cx, axis=0)))
    np.testing.assert_allclose(metrics.mfcc_distance(x, y), mf, rtol=1e-6)  # float32 DCT matrix


def test_mse_n():
    rng = np.random.default_rng(1)
    v = rng.random((5, 16))
    vh = rng.random((5, 16))
    expect = np.mean((vh - v) ** 2) / np.mean(v**2)
    got = metrics.mse_n(vh, v)
    assert got.shape == (5,)
    np.testing.assert_allclose(got.mean(), expect, rtol=1e-12)
    np.testing.assert_allclose(metrics.mse_n(np.zeros_like(v), v).mean(), 1.0, rtol=1e-12)


def test_log_mel_roundtrip_and_summary(mels):
    x, _ = mels
    back = metrics.mel_from_log_mel(np.log(x + 1e-3))
    np.testing.assert_allclose(back.numpy(), x, atol=1e-9)
    s = metrics.summarise({"a": np.array([1.0, 2.0, 6.0]), "b": np.array([np.nan])})
    assert s["a"]["mean"] == 3.0 and s["a"]["median"] == 2.0 and s["b"]["mean"] is None


def test_from_audio_silence():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 88200)).astype(np.float32) * 0.1
    m = metrics.audio_metrics_from_audio(a, np.zeros_like(a))
    assert np.all(m["sc"] == 1.0) and np.all(m["sc_ln"] == 1.0)  # no gain makes silence sound
    assert set(m) == {"sc", "sc_ln", "mse", "lsd", "mfcc", "logmel_l1"}


def test_loudness_normalised_sc():
    rng = np.random.default_rng(3)
    x = rng.random((2, 64, 80))
    y = rng.random((2, 64, 80))
    np.testing.assert_allclose(metrics.spectral_convergence_gain(x, 9.0 * x), 0.0, atol=1e-12)  # 3x magnitude
    assert np.all(metrics.spectral_convergence(x, 9.0 * x) > 1.9)
    assert np.all(metrics.spectral_convergence_gain(x, y) <= metrics.spectral_convergence(x, y) + 1e-12)
