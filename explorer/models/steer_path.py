"""Calibrated steering paths: what a semantic slider plays (`explorer.models.steer` has the predictor).

A path from one sound (`SteerPath`) is computed with `Steerer.path`, rendered with the real synth and
measured (`calibrate`), and grows as far as a slider move needs (`calibrate_towards`); the app shares them
between sessions (`explorer.app.steering.PathCache`) and the evaluation moves sliders with the same code
(`explorer.evaluate.semantic_steer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.models.steer import PATH_MARGIN, PATH_STEP, Steerer, path_length


@dataclass
class SteerPath:
    """Pair k's calibrated path from one sound (`calibrate`): the start, its level measured on its render,
    and per side (-1 down, +1 up; each calibrated when first needed, only as far as a slider move needs it)
    every point of `Steerer.path` computed so far with its measured level (`raw`), and the points kept
    (`sides`): a run whose measured levels move strictly away from the start's (a longest one of the points
    calibrated together; points calibrated later only extend it). A slider at level t plays the kept point
    measured nearest t, so the descriptor of what is heard never goes down while the slider goes up, and
    what a slider position plays does not change when the path grows past it."""

    k: int
    start: np.ndarray  # [P]
    level: float  # measured level of the start (its predicted one if it is silent)
    predicted: float  # the start's predicted level: point i of a side aims at predicted + side * step * i
    step: float = PATH_STEP
    raw: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # side -> ([n, P], [n])
    sides: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # side -> kept ([m, P], [m])

    def side_of(self, level: float) -> int:
        return -1 if level < self.level else 1

    def complete(self, side: int) -> bool:
        """Whether `side` is calibrated to the end of the slider's range."""
        return side in self.raw and len(self.raw[side][0]) >= path_length(self.predicted, side, self.step)

    def covers(self, level: float) -> bool:
        """Whether a slider at `level` has its point: a kept point measured at or past it, or a side that
        ends (calibrated to the end of the range) before it."""
        s = self.side_of(level)
        kept = self.sides.get(s, (None, np.zeros(0)))[1]
        return (len(kept) > 0 and s * kept[-1] >= s * level) or self.complete(s)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(parameters `[n, P]`, measured levels `[n]` increasing) of the start and the kept points."""
        empty = (np.zeros((0, len(self.start)), np.float32), np.zeros(0))
        lo, hi = self.sides.get(-1, empty), self.sides.get(1, empty)
        params = np.concatenate([lo[0][::-1], self.start[None], hi[0]])
        return params, np.concatenate([lo[1][::-1], [self.level], hi[1]])

    def measured(self) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, measured levels) of the start and every point rendered so far, kept or not."""
        parts = [(self.start[None], np.array([self.level]))] + list(self.raw.values())
        return np.concatenate([p for p, _ in parts]), np.concatenate([lv for _, lv in parts])

    def pick(self, level: float) -> tuple[np.ndarray, float]:
        """The point to play for a slider at `level` (its side must be calibrated) and its measured level."""
        if self.side_of(level) not in self.sides:
            raise ValueError(f"side {self.side_of(level)} of pair {self.k}'s path is not calibrated")
        params, measured = self.points()
        i = int(np.argmin(np.abs(measured - float(level))))
        return params[i], float(measured[i])


def longest_rise(x: np.ndarray, above: float) -> list[int]:
    """Indices (in order) of a longest strictly increasing subsequence of the entries of `x` above `above`;
    NaN entries never belong to it. O(n^2): paths have about 10 points a side."""
    idx = [i for i in range(len(x)) if np.isfinite(x[i]) and x[i] > above]
    best: list[list[int]] = []
    for a, i in enumerate(idx):
        prev = [best[b] for b in range(a) if x[idx[b]] < x[i]]
        best.append(max(prev, key=len, default=[]) + [i])
    return max(best, key=len, default=[])


def calibrate(steerer: Steerer, v: np.ndarray, k: int, render, sides: tuple[int, ...] = (-1, 1),
              path: SteerPath | None = None, step: float = PATH_STEP, upto: float | None = None) -> SteerPath:
    """Calibrate `sides` of pair k's path from `v[P]` (continuing them in `path`, from the same `v`, if
    given): compute the points (`Steerer.path`), render them (`render`: parameters `[n, P]` -> audio `[n, T]`,
    the real synth at the models' note; the start too when the path is new), measure the pair's descriptor
    on each, and keep, per side, a longest run of the new points moving strictly away from the start's
    measured level, or from the last point kept before. With `upto` (a slider level), each side is
    calibrated only to `PATH_MARGIN` points past the point aimed at `upto` (at least `PATH_MARGIN` more
    points), else to the end of the range."""
    from explorer.data.tags import steer_descriptors

    v = np.asarray(v, np.float32)
    f0 = float(steerer.levels(v)[k])
    ref = f0 if path is None else path.level  # where the slider stands now (the start's measured level)
    chunks = []
    for s in sides:
        done = len(path.raw[s][0]) if path is not None and s in path.raw else 0
        until = None
        if upto is not None:
            until = max(done, int(np.ceil(s * (upto - ref) / step - 1e-9))) + PATH_MARGIN
        last = path.raw[s][0][-1] if done else None
        chunks.append(steerer.path(v, k, s, step, done=done, until=until, last=last))
    head = v[None] if path is None else np.zeros((0, len(v)), np.float32)  # a new path renders its start
    rows = np.concatenate([head, *chunks])
    desc = steer_descriptors(render(rows))[:, k] if len(rows) else np.zeros(0)
    levels = np.array([steerer.level_of(k, float(d)) if np.isfinite(d) else np.nan for d in desc])
    if path is None:
        start = levels[0] if np.isfinite(levels[0]) else f0  # silent: predicted
        path = SteerPath(k, v, float(start), f0, step)
        levels = levels[1:]
    for s, pts in zip(sides, chunks, strict=True):
        lv, levels = levels[: len(pts)], levels[len(pts):]
        old = path.raw.get(s, (np.zeros((0, len(v)), np.float32), np.zeros(0)))
        path.raw[s] = (np.concatenate([old[0], pts]), np.concatenate([old[1], lv]))
        # the new points extend the kept run: a longest rise among those past its end, so what a slider
        # already played stays where it was (a path calibrated at once keeps a longest rise of all)
        kept = path.sides.get(s, (old[0][:0], old[1][:0]))
        keep = longest_rise(s * lv, s * (kept[1][-1] if len(kept[1]) else path.level))
        path.sides[s] = (np.concatenate([kept[0], pts[keep]]), np.concatenate([kept[1], lv[keep]]))
    return path


def calibrate_towards(steerer: Steerer, v: np.ndarray, k: int, level: float, render,
                      path: SteerPath | None = None) -> SteerPath:
    """What a move of pair k's slider to `level` needs: pair k's path from `v[P]` (or `path`, from its start)
    calibrated, on the side `level` lies, until a kept point is measured at or past `level` or the side
    reaches the end of the range; the app plays `path.pick(level)`. A first move renders the start and
    about |level - start| / PATH_STEP + PATH_MARGIN points; a path computed in pieces has the points of one
    computed at once (it may keep fewer of them)."""
    if path is None:
        side = -1 if level < float(steerer.levels(v)[k]) else 1
        path = calibrate(steerer, v, k, render, sides=(side,), upto=level)
    while not path.covers(level):
        calibrate(steerer, path.start, k, render, sides=(path.side_of(level),), path=path, step=path.step,
                  upto=level)
    return path
