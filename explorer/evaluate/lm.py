"""Levenberg-Marquardt refinement on log-mel residuals, the default strategy of `explorer.evaluate.refine`.

The synth is a black box, but its log-mel moves smoothly with most parameters over small steps, so a
Gauss-Newton model of it is far more sample-efficient than CMA-ES's random search: each iteration renders
the forward differences of every free parameter (one batch, all workers) for a Jacobian `J [5120, P]` of
the log-mel `log(mel + 1e-3)`, then a few damped steps `(J'J + lam diag(J'J)) d = -J'r` at once (one
batch), and moves to the best of all of them. A step that fails raises the damping and is tried again with
the same Jacobian; after `STALL` failures in a row the search hands the rest of its budget to CMA-ES (a
silent start, where the Jacobian is 0, or a kink the model cannot see).

Measured with the default candidates of the matching pipeline as starts (10 ds16 test sounds, 200 renders
each, `mix` objective): log-mel L1 0.277 -> 0.176 and SC 0.262 -> 0.203 against CMA-ES (docs/RESULTS.md has
the pipeline's rows).
"""

from __future__ import annotations

import numpy as np

H = 0.03  # forward-difference step (parameters are normalised to [0, 1])
DAMPING = (0.01, 0.1, 1.0, 10.0)  # tried at once, times the current damping
STALL = 2  # failed step rounds in a row before CMA-ES takes over


def levenberg_marquardt(s) -> None:
    """Run on an `explorer.evaluate.refine.Search` until its budget is spent, it is stopped, or LM stalls."""
    p = len(s.free)
    x = s.x0.copy()
    h = _fd_steps(x)
    f, lm = s.evaluate(np.concatenate([x[None], x[None] + np.diag(h)]), with_start=True)
    if s.stopped or len(f) < p + 1:
        return
    jac, x, fx, lx = _differences(x, h, f[0], lm[0], f[1:], lm[1:])
    lam, fails = 0.1, 0
    while s.left() >= len(DAMPING) and not s.stopped:
        r = (lx - s.tgt).reshape(-1).double().numpy()
        a, g = jac.T @ jac, jac.T @ r
        d = np.diag(np.diag(a) + 1e-9)
        steps = np.stack([np.clip(x - np.linalg.solve(a + k * lam * d, g), 0.0, 1.0) for k in DAMPING])
        f, lm = s.evaluate(steps)
        if s.stopped or not len(f):
            return
        i = int(np.argmin(f))
        if f[i] >= fx:  # no step helped: damp harder, same Jacobian
            lam, fails = lam * 100.0, fails + 1
            if fails >= STALL:
                return
            continue
        x, fx, lx, fails = steps[i], f[i], lm[i], 0
        lam = max(1e-4, lam * DAMPING[i] * 3.0)
        if s.left() < p + len(DAMPING):
            return  # not enough left for another Jacobian: CMA-ES uses the rest
        h = _fd_steps(x)
        f, lm = s.evaluate(x[None] + np.diag(h))
        if s.stopped:
            return
        jac, x, fx, lx = _differences(x, h, fx, lx, f, lm)


def _differences(x, h, fx, lx, f, lm):
    """The Jacobian from the forward-difference renders `lm[P]` (objective `f[P]`) around x; when one of those
    points is better than x, the search moves there (the Jacobian is close enough for the next step)."""
    jac = _jacobian(lm, lx, h)
    i = int(np.argmin(f))
    if f[i] < fx:
        x, fx, lx = x + np.diag(h)[i], f[i], lm[i]
    return jac, x, fx, lx


def _fd_steps(x: np.ndarray) -> np.ndarray:
    """+H, or -H where +H would leave [0, 1]."""
    return np.where(x + H <= 1.0, H, -H)


def _jacobian(lm_steps, lm_x, fd_h: np.ndarray) -> np.ndarray:
    """Log-mels `[P, 64, 80]` at x + h_i e_i and `[64, 80]` at x -> `J [5120, P]` (float64)."""
    diff = (lm_steps - lm_x[None]).reshape(len(fd_h), -1).double().numpy()
    return (diff / fd_h[:, None]).T
