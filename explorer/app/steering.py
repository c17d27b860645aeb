"""Calibrated steering paths (`explorer.models.steer_path.calibrate_towards`) shared by every session of the app.

A semantic slider move from a sound renders that pair's path, on the side the slider moved to, from the
start to a little past the slider's level (the start and |move| / 0.25 + 2 points); every later move of the
same slider, a drag preview, another session standing on the same sound, finds the path here, and it is
extended (or its other side calibrated) when a move first needs it. Renders are deterministic, so a path
depends only on (model, pair, parameters). Bounded: the least recently used paths are dropped beyond `size`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from explorer.models.steer_path import SteerPath, calibrate_towards


class PathCache:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._paths: OrderedDict[tuple, SteerPath] = OrderedDict()  # (model, k, start bytes) -> path
        self._points: dict[tuple, tuple[tuple, float]] = {}  # (model, k, point bytes) -> (path key, level)
        self._turns: dict[tuple, threading.Lock] = {}  # path key -> lock held while that path grows
        self._lock = threading.Lock()

    def find(self, model: str, k: int, v: np.ndarray) -> tuple[SteerPath, float] | None:
        """The cached path of pair k that `v[P]` lies on, and `v`'s measured level; None if there is none."""
        with self._lock:
            hit = self._points.get((model, k, np.asarray(v, np.float32).tobytes()))
            if hit is None or hit[0] not in self._paths:
                return None
            self._paths.move_to_end(hit[0])
            return self._paths[hit[0]], hit[1]

    def move(self, model: str, steerer, k: int, v: np.ndarray, level: float, render) -> np.ndarray:
        """The parameters to play when pair k's slider goes from the sound `v[P]` to `level`: the point of
        `v`'s path measured nearest it (calibrating, with `render`, what is missing). Sessions moving the
        same path take turns (a path grows in place); others run at once."""
        hit = self.find(model, k, v)
        start = np.asarray(v, np.float32) if hit is None else hit[0].start
        key = (model, k, start.tobytes())
        with self._lock:
            turn = self._turns.setdefault(key, threading.Lock())
        try:
            with turn:
                hit = self.find(model, k, v)  # again: another session may have calibrated it meanwhile
                path = calibrate_towards(steerer, v, k, level, render, None if hit is None else hit[0])
                self._add(model, path)
                return path.pick(level)[0]
        except BaseException:  # a failed render: no path was kept, so its turn lock must not stay either
            with self._lock:
                if key not in self._paths:
                    self._turns.pop(key, None)
            raise

    def _add(self, model: str, path: SteerPath) -> None:
        key = (model, path.k, path.start.tobytes())
        params, measured = path.measured()  # every rendered point: one kept earlier may be playing now
        with self._lock:
            self._paths[key] = path
            self._paths.move_to_end(key)
            for x, lv in zip(params, measured, strict=True):
                self._points[(model, path.k, x.tobytes())] = (key, float(lv))
            while len(self._paths) > self.size:
                old, dropped = self._paths.popitem(last=False)
                self._turns.pop(old, None)
                for x in dropped.measured()[0]:
                    if self._points.get((old[0], old[1], x.tobytes()), (None,))[0] == old:
                        del self._points[(old[0], old[1], x.tobytes())]

    def __len__(self) -> int:
        return len(self._paths)
