"""Calibrated steering paths (`explorer.models.steer.calibrate`) shared by every session of the app.

A semantic slider move from a sound renders that pair's path through the sound once (about 21 renders);
every later move of the same slider, a drag preview, another session standing on the same sound, finds the
path here. Renders are deterministic, so a path depends only on (model, pair, parameters). Bounded: the
least recently used paths are dropped beyond `size`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from explorer.models.steer import SteerPath, calibrate


class PathCache:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._paths: OrderedDict[tuple, SteerPath] = OrderedDict()  # (model, k, start bytes) -> path
        self._points: dict[tuple, tuple[tuple, int]] = {}  # (model, k, point bytes) -> (path key, index)
        self._lock = threading.Lock()

    def find(self, model: str, k: int, v: np.ndarray) -> tuple[SteerPath, int] | None:
        """The cached path of pair k that `v[P]` lies on, and its index there; None if there is none."""
        with self._lock:
            hit = self._points.get((model, k, np.asarray(v, np.float32).tobytes()))
            if hit is None or hit[0] not in self._paths:
                return None
            self._paths.move_to_end(hit[0])
            return self._paths[hit[0]], hit[1]

    def path(self, model: str, steerer, k: int, v: np.ndarray, render) -> tuple[SteerPath, int]:
        """Pair k's path that `v` lies on (calibrated now, with `render`, if none is cached) and `v`'s index."""
        hit = self.find(model, k, v)
        if hit is not None:
            return hit
        p = calibrate(steerer, v, k, render)
        key = (model, k, np.asarray(v, np.float32).tobytes())
        with self._lock:
            self._paths[key] = p
            for j, x in enumerate(p.params):
                self._points[(model, k, x.tobytes())] = (key, j)
            while len(self._paths) > self.size:
                old, dropped = self._paths.popitem(last=False)
                for x in dropped.params:
                    if self._points.get((old[0], old[1], x.tobytes()), (None,))[0] == old:
                        del self._points[(old[0], old[1], x.tobytes())]
        return p, p.start

    def __len__(self) -> int:
        return len(self._paths)
