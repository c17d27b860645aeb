"""Build the out-of-domain audio set: `python -m explorer.evaluate.ood --out DIR`.

Sounds that no amsynth preset made (DESIGN.md: "out-of-domain: sounds from other sources"):
- General MIDI instruments rendered by fluidsynth with `/usr/share/sounds/sf2/FluidR3_GM.sf2`: note 60,
  velocity 100, held 3 s, 4 s rendered (the dataset's render settings);
- vocal sketches ("wooo", "aaah", "brrr", ...) spoken by espeak-ng voices, slowed down and sung at a
  few pitches.
Every file is 4 s (88,200 samples) of 22,050 Hz mono float wav, peak-normalised to 0.5 (SC depends on
level; the synth's presets peak around there). `manifest.json` lists each file with its source. Nothing
comes from the dataset, so the set cannot overlap the test split.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

from explorer.data.audio_input import resample
from explorer.data.features import fit_length

SAMPLE_RATE = 22050
DURATION = 4.0
N_SAMPLES = int(SAMPLE_RATE * DURATION)
PEAK = 0.5
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"

# (GM program number 0-127, short name): a spread over the GM families
GM_PROGRAMS: list[tuple[int, str]] = [
    (0, "piano"), (4, "epiano"), (6, "harpsichord"), (11, "vibraphone"), (16, "organ"),
    (19, "church_organ"), (21, "accordion"), (24, "nylon_guitar"), (29, "overdrive_guitar"),
    (33, "finger_bass"), (38, "synth_bass"), (40, "violin"), (42, "cello"), (48, "strings"),
    (52, "choir_aahs"), (56, "trumpet"), (57, "trombone"), (61, "brass_section"), (65, "alto_sax"),
    (68, "oboe"), (71, "clarinet"), (73, "flute"), (79, "ocarina"), (80, "square_lead"),
    (81, "saw_lead"), (88, "new_age_pad"), (89, "warm_pad"), (95, "sweep_pad"), (104, "sitar"),
    (112, "tinkle_bell"),
]

# (text, espeak-ng voice, words per minute, pitch 0-99): vocal imitations of synth sounds
VOCAL_SKETCHES: list[tuple[str, str, int, int]] = [
    ("wooooooooo aaaaaaah", "en", 60, 40),
    ("aaaaaaaaaaaah", "en+f3", 50, 60),
    ("ooooooooooooo", "en+m3", 50, 30),
    ("wah wah wah wah", "en", 90, 50),
    ("brrrrrrrrrrrr", "en+m1", 60, 35),
    ("zzzzzzzzzzzzzz", "en+f2", 50, 55),
    ("mmmmmmmmmmmmmm", "en+m2", 50, 45),
    ("eeeeeeeeeeyooo", "en+f4", 60, 70),
    ("pew pew pew pew", "en+f1", 100, 65),
    ("vvvvvvooooom", "de", 60, 30),
    ("boooom", "fr", 40, 20),
    ("tss tss tss tss", "en", 110, 50),
    ("la la la la la", "it", 90, 60),
    ("oooo eeee oooo eeee", "en+croak", 70, 40),
]


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_file(program: int, note: int = 60, velocity: int = 100, hold: float = 3.0, tail: float = 1.0) -> bytes:
    """A one-note standard MIDI file (format 0, 480 ticks per beat at 120 bpm: 960 ticks per second)."""
    tps = 960
    events = (
        _varlen(0) + bytes([0xC0, program])
        + _varlen(0) + bytes([0x90, note, velocity])
        + _varlen(int(hold * tps)) + bytes([0x80, note, 64])
        + _varlen(int(tail * tps)) + bytes([0xFF, 0x2F, 0x00])
    )
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    return header + b"MTrk" + struct.pack(">I", len(events)) + events


def _finish(audio: np.ndarray, sr: int) -> np.ndarray:
    """Any audio `[T]` or `[T, C]` -> mono `[88200]` float32 at 22,050 Hz, peak `PEAK` (silence stays 0)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    audio = fit_length(resample(audio, sr, SAMPLE_RATE), N_SAMPLES)
    peak = float(np.abs(audio).max())
    return (audio * (PEAK / peak) if peak > 0 else audio).astype(np.float32)


def render_gm(program: int, path: str, soundfont: str = SOUNDFONT, note: int = 60, velocity: int = 100) -> None:
    """Render GM `program` (at `note`, `velocity`) with fluidsynth -> 4 s 22,050 Hz mono wav at `path`."""
    with tempfile.TemporaryDirectory() as tmp:
        mid, raw = os.path.join(tmp, "note.mid"), os.path.join(tmp, "out.wav")
        with open(mid, "wb") as f:
            f.write(midi_file(program, note, velocity))
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(SAMPLE_RATE), "-F", raw, soundfont, mid],
                       check=True, capture_output=True, timeout=60)
        audio, sr = sf.read(raw, dtype="float32", always_2d=True)
    sf.write(path, _finish(audio, sr), SAMPLE_RATE, subtype="FLOAT")


def render_voice(text: str, voice: str, wpm: int, pitch: int, path: str) -> None:
    """Speak `text` with espeak-ng -> 4 s 22,050 Hz mono wav at `path`."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "out.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", raw, text],
                       check=True, capture_output=True, timeout=60)
        audio, sr = sf.read(raw, dtype="float32", always_2d=True)
    sf.write(path, _finish(audio, sr), SAMPLE_RATE, subtype="FLOAT")


def build(out_dir: str, gm: bool = True, voices: bool = True) -> list[dict]:
    """Write the set into `out_dir` (wav files + manifest.json); returns the manifest records."""
    os.makedirs(out_dir, exist_ok=True)
    records: list[dict] = []
    if gm:
        if not shutil.which("fluidsynth") or not os.path.isfile(SOUNDFONT):
            raise RuntimeError("fluidsynth or FluidR3_GM.sf2 missing: apt-get install fluidsynth fluid-soundfont-gm")
        for program, name in GM_PROGRAMS:
            fname = f"gm{program:03d}_{name}.wav"
            render_gm(program, os.path.join(out_dir, fname))
            records.append({"file": fname, "source": "fluidsynth", "program": program, "name": name})
    if voices:
        if not shutil.which("espeak-ng"):
            raise RuntimeError("espeak-ng missing: apt-get install espeak-ng")
        for k, (text, voice, wpm, pitch) in enumerate(VOCAL_SKETCHES):
            slug = "".join(c for c in text.split()[0] if c.isalpha())[:10]
            fname = f"voice{k:02d}_{slug}_{voice.replace('+', '-')}.wav"
            render_voice(text, voice, wpm, pitch, os.path.join(out_dir, fname))
            records.append({"file": fname, "source": "espeak-ng", "text": text, "voice": voice,
                            "wpm": wpm, "pitch": pitch})
    manifest = {"sample_rate": SAMPLE_RATE, "duration": DURATION, "peak": PEAK, "command": " ".join(sys.argv),
                "files": records}
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--no-gm", action="store_true", help="skip the fluidsynth instruments")
    ap.add_argument("--no-voices", action="store_true", help="skip the espeak-ng vocal sketches")
    args = ap.parse_args(argv)
    records = build(args.out, gm=not args.no_gm, voices=not args.no_voices)
    print(f"wrote {len(records)} sounds to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
