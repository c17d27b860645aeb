"""amsynth presets: `.bank` reader/writer and the raw <-> normalised mapping, derived from the plugin.

This is the only amsynth-specific module. A `.bank` file is plain text:

    amSynth
    <preset> <name> NAME
    <parameter> amp_attack 0.0333333
    ...

Values are amsynth's raw units (filter_cutoff -0.5..1.5, osc2_pitch -12..12, ...). The plugin's saved
state embeds the same text, so the plugin itself tells the mapping: the raw value at normalised 0 and 1
give `raw = lo + v * (hi - lo)` (checked linear at 0.5 when the map is built), and discrete parameters
take the integer steps the host found (`Param.steps`).
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass

import numpy as np

BANK_DIR = "/usr/share/amsynth/banks"
BANK_HEADER = "amSynth"
_STATE_MARKER = b"amSynth1.0preset\n"
_PARAM_RE = re.compile(r"<parameter> (\S+) (\S+)")


class BankError(ValueError):
    """A bank or preset file that cannot be read."""


@dataclass
class Preset:
    name: str
    bank: str
    raw: dict[str, float]


def parse_bank_text(text: str, source: str = "<text>") -> list[Preset]:
    """Parse the text of a `.bank` file; `source` names it in error messages."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != BANK_HEADER:
        raise BankError(f"{source}: not an amsynth bank (first line must be '{BANK_HEADER}')")
    bank = os.path.basename(source).split(".")[0]
    presets: list[Preset] = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if line.startswith("EOF"):  # amsynth ends its banks with an EOF line
            break
        if line.startswith("<preset> <name> "):
            presets.append(Preset(line[len("<preset> <name> "):], bank, {}))
        elif line.startswith("<parameter> "):
            parts = line.split()
            if len(parts) != 3 or not presets:
                raise BankError(f"{source}:{n}: malformed parameter line {line!r}")
            try:
                value = float(parts[2])
            except ValueError:
                raise BankError(f"{source}:{n}: value {parts[2]!r} is not a number") from None
            if not np.isfinite(value):
                raise BankError(f"{source}:{n}: value {parts[2]!r} is not finite")
            presets[-1].raw[parts[1]] = value
        else:
            raise BankError(f"{source}:{n}: unexpected line {line[:60]!r}")
    if not presets:
        raise BankError(f"{source}: no presets found")
    return presets


def read_bank(path: str) -> list[Preset]:
    """Read one `.bank` file -> its presets (raw units). Raises BankError naming file and line."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise BankError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BankError(f"{path}: not a text file (not an amsynth bank)") from None
    return parse_bank_text(text, path)


def read_all_banks(bank_dir: str = BANK_DIR) -> list[Preset]:
    """Every preset of every `.bank` in `bank_dir`, in file order."""
    paths = sorted(glob.glob(os.path.join(bank_dir, "*.bank")))
    if not paths:
        raise BankError(f"no .bank files in {bank_dir} (install amsynth: apt-get install amsynth)")
    return [p for path in paths for p in read_bank(path)]


def _fmt(value: float) -> str:
    return format(float(value), ".9g")


def bank_text(presets: list[tuple[str, dict[str, float]]]) -> str:
    """The text of a `.bank` holding `[(name, raw_dict), ...]`."""
    out = [BANK_HEADER]
    for name, raw in presets:
        clean = str(name).replace("\r", " ").replace("\n", " ") or "untitled"  # one line
        out.append(f"<preset> <name> {clean}")
        out += [f"<parameter> {k} {_fmt(v)}" for k, v in raw.items()]
    return "\n".join(out + ["EOF"]) + "\n"


def write_bank(path: str, presets: list[tuple[str, dict[str, float]]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(bank_text(presets))


def _state_values(state: bytes) -> dict[str, float]:
    i = state.find(_STATE_MARKER)
    if i < 0:
        raise BankError("plugin state holds no amsynth preset text")
    return {k: float(v) for k, v in _PARAM_RE.findall(state[i:].decode("latin-1"))}


class ParamMap:
    """raw (amsynth units) <-> normalised [0, 1] for every plugin parameter, in plugin order."""

    def __init__(self, names: list[str], lo: np.ndarray, hi: np.ndarray, steps: list[int],
                 defaults: np.ndarray):
        self.names = list(names)
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.steps = list(steps)
        self.defaults = np.asarray(defaults, float)  # raw values of a fresh plugin

    @classmethod
    def from_synth(cls, synth) -> ParamMap:
        params = synth.params
        names = [p.name for p in params]
        n = len(names)
        lo_d, hi_d = _state_values(synth.state(np.zeros(n))), _state_values(synth.state(np.ones(n)))
        mid_d = _state_values(synth.state(np.full(n, 0.5)))
        defaults_d = _state_values(synth.state())
        lo = np.array([lo_d[k] for k in names])
        hi = np.array([hi_d[k] for k in names])
        mid = np.array([mid_d[k] for k in names])
        cont = np.array([p.steps == 0 for p in params])
        expect = (lo + hi) / 2
        if np.any(np.abs(mid - expect)[cont] > 1e-4 * np.maximum(1, np.abs(hi - lo))[cont]):
            bad = [names[i] for i in np.flatnonzero(cont & (np.abs(mid - expect) > 1e-4))]
            raise BankError(f"plugin parameters are not linear in raw units: {bad}")
        defaults = np.array([defaults_d[k] for k in names])
        return cls(names, lo, hi, [p.steps for p in params], defaults)

    def to_normalised(self, raw: dict[str, float]) -> np.ndarray:
        """raw dict (missing names take the plugin defaults; unknown names are ignored) -> v[n]."""
        r = np.array([raw.get(k, d) for k, d in zip(self.names, self.defaults)], float)
        v = (r - self.lo) / np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        return np.clip(v, 0.0, 1.0)

    def to_raw(self, v: np.ndarray) -> dict[str, float]:
        """v[n] in [0, 1] -> raw dict; discrete parameters land on their integer steps."""
        v = np.clip(np.asarray(v, float), 0.0, 1.0)
        r = self.lo + v * (self.hi - self.lo)
        out = {}
        for k, x, s in zip(self.names, r, self.steps):
            out[k] = float(np.floor(x + 0.5)) if s else float(x)
        return out

    def to_dict(self) -> dict:
        return {"names": self.names, "lo": self.lo.tolist(), "hi": self.hi.tolist(),
                "steps": self.steps, "defaults": self.defaults.tolist()}


def preset_json(name: str, v: np.ndarray, pmap: ParamMap, texts: list[str] | None = None) -> dict:
    """A JSON-able preset: name, plugin, and per parameter the normalised value, raw value and text."""
    raw = pmap.to_raw(v)
    params = {}
    for i, k in enumerate(pmap.names):
        params[k] = {"normalised": float(np.clip(v[i], 0, 1)), "raw": raw[k]}
        if texts is not None:
            params[k]["text"] = texts[i]
    return {"format": "flowsynth-preset", "version": 1, "name": name, "parameters": params}


def values_from_json(data: dict | str, pmap: ParamMap) -> tuple[str, np.ndarray]:
    """Inverse of `preset_json` (accepts the dict or its JSON text) -> (name, v[n])."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise BankError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise BankError("JSON preset must be an object with a 'parameters' object")
    raw = {}
    for k, entry in data["parameters"].items():
        if k not in pmap.names:
            continue
        try:
            raw[k] = float(entry["raw"]) if isinstance(entry, dict) else float(entry)
        except (KeyError, TypeError, ValueError):
            raise BankError(f"JSON preset: parameter {k!r} has no numeric 'raw' value") from None
    if not raw:
        raise BankError("JSON preset names none of the synth's parameters")
    return str(data.get("name", "untitled")), pmap.to_normalised(raw)


def dedupe(presets: list[Preset], pmap: ParamMap) -> list[Preset]:
    """Drop presets whose normalised parameter values repeat an earlier one (first kept)."""
    seen, out = set(), []
    for p in presets:
        key = tuple(np.round(pmap.to_normalised(p.raw), 6))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
