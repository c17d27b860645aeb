"""Map tab: select a dataset dot, decode a point of empty map space, the browser's click payload."""

from __future__ import annotations

import json

import numpy as np

from explorer.app.engine import Engine, UserError
from explorer.app.state import set_current_z
from explorer.app.tabs.interpolation import step_to_current
from explorer.app.tabs.neighbourhood import neighbour_to_current


def select_point(engine: Engine, st: dict, index: int) -> dict:
    lmap = engine.entry(st["model"]).lmap
    if lmap is None:
        raise UserError("this model has no latent map")
    i = int(index)
    if not 0 <= i < len(lmap):
        raise UserError(f"no dataset point {i} (the map has {len(lmap)})")
    v = None if lmap.v is None else lmap.v[i]  # decoded at export
    return set_current_z(engine, st, lmap.z[i], f"{lmap.names[i]} ({lmap.banks[i]})", lmap.xy[i], v,
                         origin={"kind": "dataset", "index": i})


def decode_xy(engine: Engine, st: dict, x: float, y: float) -> dict:
    lmap = engine.entry(st["model"]).lmap
    if lmap is None:
        raise UserError("this model has no latent map")
    if not (np.isfinite(x) and np.isfinite(y)):
        raise UserError("map position must be finite")
    z = lmap.unproject(np.array([[x, y]], np.float32))[0]
    return set_current_z(engine, st, z, f"map point ({x:.2f}, {y:.2f})", (x, y))


def map_click(engine: Engine, st: dict, click: str) -> dict:
    """Browser click: JSON `{"kind": "point", "index": i}` | `{"kind": "xy", "x", "y"}` |
    `{"kind": "neighbour" | "step", "index": k}`."""
    try:
        p = json.loads(click) if isinstance(click, str) else dict(click)
        kind = p.get("kind", "xy")
    except (ValueError, TypeError, AttributeError):
        raise UserError(f"bad map click {str(click)[:80]!r}") from None
    if kind == "point":
        return select_point(engine, st, int(p["index"]))
    if kind == "xy" and p.get("tol"):  # a click within a few pixels of a dot selects the dot
        lmap = engine.entry(st["model"]).lmap
        if lmap is not None and len(lmap):
            tx, ty = (max(float(t), 1e-12) for t in p["tol"])
            d = ((lmap.xy[:, 0] - float(p["x"])) / tx) ** 2 + ((lmap.xy[:, 1] - float(p["y"])) / ty) ** 2
            i = int(np.argmin(d))
            if d[i] <= 1.0:
                return select_point(engine, st, i)
    if kind == "neighbour":
        return neighbour_to_current(engine, st, int(p["index"]))
    if kind == "step":
        return step_to_current(engine, st, int(p["index"]))
    return decode_xy(engine, st, float(p["x"]), float(p["y"]))
