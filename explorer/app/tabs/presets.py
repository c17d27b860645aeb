"""Presets tab: export the current sound as an amsynth bank and JSON, load and place uploaded presets."""

from __future__ import annotations

import json
import os
import re

import numpy as np

from explorer.app.engine import Engine, UserError
from explorer.app.state import current_model, set_current_params


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "preset"


def export_preset(engine: Engine, st: dict, name: str = "") -> tuple[str, str]:
    """Write the current sound as an amsynth `.bank` and a JSON preset -> (bank path, json path)."""
    from explorer.synth.presets import bank_text, preset_json

    name = (name or "").strip() or st["label"][:40]
    full = np.asarray(st["full"], np.float64)
    pmap = engine.pmap
    bank = engine.write_file(_safe_name(name) + ".bank", bank_text([(name, pmap.to_raw(full))]).encode("utf-8"))
    js = json.dumps(preset_json(name, full, pmap, engine.synth.texts(full)), indent=1)
    return bank, engine.write_file(_safe_name(name) + ".json", js.encode("utf-8"))


MAX_PRESET_BYTES = 2 * 1024 * 1024


def load_presets(engine: Engine, st: dict, path: str) -> tuple[dict, list[str], str]:
    """Read an uploaded `.bank` or JSON preset -> (state, preset choices, status)."""
    from explorer.synth.presets import BankError, parse_bank_text, values_from_json

    if not path or not os.path.isfile(path):
        raise UserError("no preset file received")
    name = os.path.basename(path)
    size = os.path.getsize(path)
    if size > MAX_PRESET_BYTES:
        raise UserError(f"{name} is {size / 2**20:.1f} MB: preset files may be at most "
                        f"{MAX_PRESET_BYTES // 2**20} MB (.bank or .json)")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name}: not a text file; expected an amsynth .bank or a JSON preset") from None
    pmap = engine.pmap
    presets: dict[str, np.ndarray] = {}
    try:
        if text.lstrip().startswith("{"):
            pname, full = values_from_json(text, pmap)
            presets[pname] = full
        else:
            for i, p in enumerate(parse_bank_text(text, name)):
                presets[f"{i:03d} {p.name}"] = pmap.to_normalised(p.raw)
    except BankError as exc:
        msg = re.sub(r"^(\S*?):(\d+):", r"\1, line \2:", str(exc))  # "file:3:" -> "file, line 3:"
        raise UserError(msg if msg.startswith(name) else f"{name}: {msg}") from None
    st = dict(st, presets=presets)
    return st, list(presets), f"{name}: {len(presets)} preset(s) loaded; choose one and place it on the map"


def place_preset(engine: Engine, st: dict, preset: str) -> dict:
    """Put a loaded preset on the map through the inverse regression flow (params -> latent)."""
    if not st["presets"]:
        raise UserError("load a .bank or JSON preset first")
    if preset not in st["presets"]:
        raise UserError(f"unknown preset {preset!r}")
    m = current_model(engine, st)
    full = np.asarray(st["presets"][preset], np.float32)
    v = full[m.param_indices]
    return set_current_params(engine, st, v, f"preset: {preset}", origin={"kind": "preset", "full": full})
