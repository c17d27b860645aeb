"""Keep what you find: the history of visited sounds (back / forward) and a favourites list that exports
as one amsynth `.bank` holding them all (and one JSON file).

An entry is everything needed to come back to a sound exactly: its model, latent code, parameters (the
model's set and the full plugin vector), map position, label and origin (for A/B). A sound from another
model comes back through its parameters (`set_current_params`: the inverse regression flow places it).
"""

from __future__ import annotations

import json
import os
import re
import tempfile

import numpy as np

from explorer.app.engine import Engine, UserError
from explorer.app.state import current_model, set_current_params, set_current_z

MAX_HISTORY = 50
MAX_FAVOURITES = 128  # an amsynth bank holds 128 presets


def entry(st: dict) -> dict:
    """The current sound as a history / favourites entry."""
    return {"model": st["model"], "label": st["label"], "z": np.array(st["z"], np.float32),
            "v": np.array(st["v"], np.float32), "full": np.array(st["full"], np.float32),
            "xy": None if st.get("xy") is None else list(st["xy"]), "origin": st.get("origin")}


def _same(a: dict, b: dict) -> bool:
    return a["model"] == b["model"] and a["label"] == b["label"] and np.array_equal(a["full"], b["full"])


def remember(st: dict) -> dict:
    """Record the current sound in the history (after the cursor; a sound equal to the one at the cursor,
    e.g. the one just gone back to, is not recorded twice). Forward entries are dropped, as in a browser."""
    hist, cur = list(st.get("history") or []), int(st.get("cursor", -1))
    e = entry(st)
    if 0 <= cur < len(hist) and _same(hist[cur], e):
        return st
    hist = hist[: cur + 1] + [e]
    hist = hist[-MAX_HISTORY:]
    return dict(st, history=hist, cursor=len(hist) - 1)


def restore(engine: Engine, st: dict, e: dict, label: str | None = None) -> dict:
    """Make entry `e` the current sound again (exactly, in its own model; by its parameters in another)."""
    label = label or e["label"]
    if e["model"] == st["model"]:
        return set_current_z(engine, st, e["z"], label, e["xy"], e["v"], origin=e["origin"])
    m = current_model(engine, st)
    full = np.asarray(e["full"], np.float32)
    return set_current_params(engine, st, full[m.param_indices], f"{label} [from {e['model']}]", full=full,
                              origin={"kind": "preset", "full": full})


def go(engine: Engine, st: dict, step: int) -> dict:
    """Back (`step` -1) or forward (+1) in the history."""
    hist, cur = st.get("history") or [], int(st.get("cursor", -1))
    k = cur + int(step)
    if not hist or not 0 <= k < len(hist):
        raise UserError("nothing further back in the history" if step < 0 else
                        "nothing further forward in the history")
    return restore(engine, dict(st, cursor=k), hist[k])


def history_choices(st: dict) -> list[str]:
    """Menu of the history, newest first; the current position marked with '>'."""
    hist, cur = st.get("history") or [], int(st.get("cursor", -1))
    return [f"{'>' if i == cur else ' '}{i:02d} {hist[i]['label']}" for i in reversed(range(len(hist)))]


def _index(choice, n: int, what: str) -> int:
    m = re.match(r"\s*>?\s*(\d+)", str(choice or ""))
    if not m or not 0 <= int(m.group(1)) < n:
        raise UserError(f"no {what} {choice!r}: choose one from the list ({n} there)")
    return int(m.group(1))


def jump(engine: Engine, st: dict, choice) -> dict:
    hist = st.get("history") or []
    k = _index(choice, len(hist), "history entry")
    return restore(engine, dict(st, cursor=k), hist[k])


# -- favourites ---------------------------------------------------------------------------------

def favourite_choices(st: dict) -> list[str]:
    return [f"{i:03d} {f['name']}" for i, f in enumerate(st.get("favourites") or [])]


def add_favourite(engine: Engine, st: dict, name: str = "") -> tuple[dict, str]:
    favs = list(st.get("favourites") or [])
    if len(favs) >= MAX_FAVOURITES:
        raise UserError(f"the favourites hold at most {MAX_FAVOURITES} sounds (one amsynth bank): remove one")
    e = entry(st)
    if any(np.array_equal(f["full"], e["full"]) for f in favs):
        raise UserError(f"{st['label']} is already a favourite")
    e["name"] = (name or "").strip()[:60] or st["label"][:60]
    favs.append(e)
    return dict(st, favourites=favs), f"kept {e['name']!r} ({len(favs)} favourite(s))"


def remove_favourite(st: dict, choice) -> tuple[dict, str]:
    favs = list(st.get("favourites") or [])
    k = _index(choice, len(favs), "favourite")
    gone = favs.pop(k)
    return dict(st, favourites=favs), f"removed {gone['name']!r} ({len(favs)} favourite(s) left)"


def goto_favourite(engine: Engine, st: dict, choice) -> dict:
    favs = st.get("favourites") or []
    k = _index(choice, len(favs), "favourite")
    return restore(engine, st, favs[k], favs[k]["name"])


def export_favourites(engine: Engine, st: dict, name: str = "") -> tuple[str, str]:
    """Every favourite in one amsynth `.bank` and one JSON file (a list of presets) -> (bank, json)."""
    from explorer.synth.presets import bank_text, preset_json

    favs = st.get("favourites") or []
    if not favs:
        raise UserError("no favourites yet: keep a sound with '+ Favourite' first")
    pmap = engine.pmap
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", (name or "").strip()).strip("._") or "favourites"
    d = tempfile.mkdtemp(dir=engine.tmpdir)
    fulls = [np.asarray(f["full"], np.float64) for f in favs]
    bank = os.path.join(d, base + ".bank")
    with open(bank, "w", encoding="utf-8") as fh:
        fh.write(bank_text([(f["name"], pmap.to_raw(v)) for f, v in zip(favs, fulls)]))
    js = os.path.join(d, base + ".json")
    with open(js, "w", encoding="utf-8") as fh:
        json.dump({"format": "flowsynth-favourites", "version": 1,
                   "presets": [preset_json(f["name"], v, pmap, engine.synth.texts(v)) for f, v in zip(favs, fulls)]},
                  fh, indent=1)
    return bank, js
