import glob
import re

import numpy as np
import pytest

from explorer.synth.presets import (
    BANK_DIR,
    BankError,
    _state_values,
    bank_text,
    dedupe,
    parse_bank_text,
    preset_json,
    read_all_banks,
    read_bank,
    values_from_json,
    write_bank,
)

BANKS = sorted(glob.glob(f"{BANK_DIR}/*.bank"))


def test_all_banks_read():
    presets = read_all_banks()
    assert len(BANKS) == 28 and len(presets) == 3482
    assert all(p.raw for p in presets)


@pytest.mark.parametrize("path", BANKS[:28:3])
def test_bank_read_write_read_identical(path, tmp_path):
    presets = read_bank(path)
    out = tmp_path / "copy.bank"
    write_bank(str(out), [(p.name, p.raw) for p in presets])
    again = read_bank(str(out))
    assert [(p.name, p.raw) for p in again] == [(p.name, p.raw) for p in presets]


def test_written_bank_matches_amsynth_layout(tmp_path):
    with open(BANKS[0]) as f:
        text = f.read()
    presets = read_bank(BANKS[0])
    ours = bank_text([(p.name, p.raw) for p in presets])
    # same lines as amsynth's own file, up to how numbers are spelled
    norm = lambda t: [re.sub(r" (\S+)$", lambda m: f" {float(m.group(1)):.5g}", ln)
                      if ln.startswith("<parameter>") else ln for ln in t.splitlines()]
    assert norm(ours) == norm(text)


def test_raw_normalised_plugin_round_trip_every_parameter(synth, pmap):
    presets = read_all_banks()[::211]
    for p in presets:
        v = pmap.to_normalised(p.raw)
        held = _state_values(synth.state(v))  # the plugin's own raw values after setting v
        for name in pmap.names:
            want = p.raw.get(name, pmap.defaults[pmap.names.index(name)])
            assert held[name] == pytest.approx(want, rel=1e-4, abs=1e-5), (p.name, name)
        back = pmap.to_raw(v)
        assert all(back[k] == pytest.approx(p.raw[k], rel=1e-6, abs=1e-7) for k in p.raw
                   if k in back)


def test_texts_are_real_units(synth, pmap):
    v = pmap.to_normalised({"filter_cutoff": 0.5, "osc2_pitch": 7, "amp_attack": 0.0})
    t = synth.texts(v)
    assert float(t[pmap.names.index("filter_cutoff")]) == pytest.approx(16 ** 0.5, rel=1e-3)
    assert t[pmap.names.index("osc2_pitch")] == "7"


def test_dedupe_removes_identical_presets(pmap):
    presets = read_all_banks()
    unique = dedupe(presets, pmap)
    assert len(unique) < len(presets)
    keys = {tuple(np.round(pmap.to_normalised(p.raw), 6)) for p in unique}
    assert len(keys) == len(unique)
    names = [p.name for p in unique]
    assert names.count("YouPickWhich") == 1


def test_corrupt_bank_errors(tmp_path):
    bad = tmp_path / "bad.bank"
    bad.write_text("amSynth\n<preset> <name> x\n<parameter> amp_attack notanumber\n")
    with pytest.raises(BankError, match=r"bad.bank:3: value 'notanumber' is not a number"):
        read_bank(str(bad))
    binary = tmp_path / "noise.bank"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(BankError, match="noise.bank"):
        read_bank(str(binary))
    with pytest.raises(BankError, match="not an amsynth bank"):
        parse_bank_text("hello\n", "x.bank")
    with pytest.raises(BankError, match="cannot read"):
        read_bank(str(tmp_path / "missing.bank"))


def test_json_preset_round_trip(pmap):
    v = pmap.to_normalised(read_all_banks()[7].raw)
    name, back = values_from_json(preset_json("x", v, pmap), pmap)
    assert name == "x" and np.allclose(back, v, atol=1e-9)
    with pytest.raises(BankError):
        values_from_json("{not json", pmap)
    with pytest.raises(BankError):
        values_from_json({"parameters": {"nope": 1}}, pmap)
