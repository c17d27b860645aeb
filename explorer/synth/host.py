"""Synth host: any VST2 plugin through DawDreamer, rendered deterministically in worker processes.

The host reads the parameter spec from the plugin itself and assumes nothing about amsynth (whose preset
format lives in `explorer.synth.presets`). Rendering happens in `explorer.synth.worker` processes: each loads the
plugin once and forks a fresh child per sound, so identical parameters give bit-identical audio.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Self

import numpy as np
from tqdm import tqdm

DEFAULT_PLUGIN = os.environ.get("EXPLORER_PLUGIN", "/usr/lib/vst/amsynth_vst.so")
INSTALL_HINT = (
    "Install amsynth (Debian/Ubuntu: `sudo apt-get install amsynth`, which provides "
    "/usr/lib/vst/amsynth_vst.so) or pass the path of another VST2 plugin."
)
# A parameter whose text takes at most this many distinct values over a fine sweep is discrete.
_DISCRETE_MAX_STEPS = 32
_SWEEP = 129


class SynthError(RuntimeError):
    """The plugin is missing, cannot be loaded, or a render failed."""


@dataclass(frozen=True)
class RenderSettings:
    sample_rate: int = 22050
    note: int = 60
    velocity: int = 100
    hold: float = 3.0  # seconds the note is held
    duration: float = 4.0  # seconds rendered
    block_size: int = 512

    @property
    def n_samples(self) -> int:
        return round(self.duration * self.sample_rate)


@dataclass(frozen=True)
class Param:
    """One plugin parameter. Models see values in [0, 1]; `steps` > 0 marks a discrete parameter."""

    index: int
    name: str
    unit: str
    steps: int = 0  # number of distinct values for discrete parameters, 0 if continuous

    @property
    def discrete(self) -> bool:
        return self.steps > 0

    def quantise(self, v: np.ndarray) -> np.ndarray:
        """Snap normalised values to the parameter's steps (identity for continuous ones)."""
        v = np.clip(v, 0.0, 1.0)
        if not self.discrete:
            return v
        return np.round(v * (self.steps - 1)) / (self.steps - 1)


class _Worker:
    """One plugin-hosting process and its pipe."""

    def __init__(self, plugin_path: str, settings: RenderSettings):
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "explorer.synth.worker", plugin_path,
             str(settings.sample_rate), str(settings.block_size)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),  # the repo root
        )
        # drain stderr continuously (plugin chatter) so the worker never blocks on a full pipe
        self.stderr_tail: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.n_params = self._read(loading=True)

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.stderr_tail = (self.stderr_tail + [line.decode(errors="replace").rstrip()])[-20:]

    def _read(self, loading: bool = False):
        try:
            status, value = pickle.load(self.proc.stdout)
        except EOFError:
            self.proc.wait(timeout=5)
            tail = "\n".join(self.stderr_tail[-5:])
            raise SynthError(f"synth worker exited (code {self.proc.returncode}). {tail}") from None
        if status != "ok":  # a command's error says what went wrong; a load error may need the plugin's words
            tail = [ln for ln in self.stderr_tail[-4:] if "Error" in ln or "error" in ln] if loading else []
            raise SynthError(value + (f" ({tail[-1]})" if tail else ""))
        return value

    def call(self, cmd: str, payload=None):
        with self.lock:
            if self.proc.poll() is not None:
                raise SynthError(f"synth worker is not running (exit code {self.proc.returncode})")
            pickle.dump((cmd, payload), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Synth:
    """A plugin host: `render(params[N, P] in [0, 1]) -> audio[N, T]` (mono, float32).

    `workers` processes render in parallel (default: every core). Use as a context manager or call
    `close()`; workers also end with the Python process. `backend`: None for local worker processes,
    or an object whose `start(plugin_path, settings, workers)` returns workers with the same `call` /
    `close` interface and whose `close()` ends it (`explorer.synth.ray_pool.RayBackend`: Ray actors,
    default one per free CPU of the cluster). The plugin path is then checked on the nodes, not here.
    """

    def __init__(self, plugin_path: str = DEFAULT_PLUGIN, settings: RenderSettings | None = None,
                 workers: int | None = None, backend=None):
        self.plugin_path = os.path.abspath(plugin_path)
        self.settings = settings or RenderSettings()
        self.backend = backend
        if backend is not None:
            self._workers = backend.start(self.plugin_path, self.settings, workers)
        else:
            if not os.path.isfile(self.plugin_path):
                raise SynthError(f"Synth plugin not found: {self.plugin_path}. {INSTALL_HINT}")
            n = workers or os.cpu_count() or 1
            self._workers = [self._start(self.plugin_path)]
            with ThreadPoolExecutor(max(1, n - 1)) as ex:  # start the others in parallel
                self._workers += list(ex.map(lambda _: self._start(self.plugin_path), range(n - 1)))
        self.n_params: int = self._workers[0].n_params
        self._params: list[Param] | None = None
        # every call (from any thread) takes an idle worker from here and gives it back: concurrent callers
        # (the app's users) use different workers instead of queueing on one
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        for w in self._workers:
            self._idle.put(w)

    def _start(self, path: str) -> _Worker:
        try:
            return _Worker(path, self.settings)
        except SynthError as exc:
            raise SynthError(f"Could not load synth plugin {path}: {exc}. {INSTALL_HINT}") from None

    # -- context management ------------------------------------------------------------------
    def close(self) -> None:
        for w in self._workers:
            w.close()
        if self.backend is not None:
            self.backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def workers(self) -> int:
        return len(self._workers)

    def _call(self, cmd: str, payload=None):
        """Run one command on whichever worker is idle first (waiting for one if all are busy)."""
        w = self._idle.get()
        try:
            return w.call(cmd, payload)
        finally:
            self._idle.put(w)

    # -- parameter spec ----------------------------------------------------------------------
    @property
    def params(self) -> list[Param]:
        """The parameter spec, read from the plugin (names, units, discrete steps from a text sweep)."""
        if self._params is None:
            desc = self._call("describe")
            grid = np.linspace(0.0, 1.0, _SWEEP)
            queries = [(d["index"], float(v)) for d in desc for v in grid]
            texts = self._call("text", queries)
            params = []
            for k, d in enumerate(desc):
                distinct = len(set(texts[k * _SWEEP : (k + 1) * _SWEEP]))
                steps = distinct if distinct <= _DISCRETE_MAX_STEPS else 0
                params.append(Param(d["index"], d["name"], d.get("label", ""), steps))
            self._params = params
        return self._params

    def param_index(self, name: str) -> int:
        for p in self.params:
            if p.name == name:
                return p.index
        raise KeyError(f"plugin has no parameter named {name!r}")

    def texts(self, values: np.ndarray) -> list[str]:
        """Real-unit display text of each parameter for one full normalised vector `values[P]`."""
        values = self._check(values[None])[0]
        return self._call("text", [(i, float(v)) for i, v in enumerate(values)])

    def state(self, values: np.ndarray | None = None) -> bytes:
        """The plugin's saved state for one full normalised vector (None: its pristine defaults)."""
        payload = None if values is None else self._check(np.asarray(values)[None])[0]
        return self._call("state", payload)

    # -- rendering ---------------------------------------------------------------------------
    def _check(self, params: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64)
        if params.ndim != 2 or params.shape[1] != self.n_params:
            raise SynthError(
                f"expected parameters of shape [N, {self.n_params}], got {list(params.shape)}")
        if not np.all(np.isfinite(params)):
            raise SynthError("parameters contain NaN or infinite values")
        return np.clip(params, 0.0, 1.0)

    def _payload(self, rows: np.ndarray, note: int | None = None, velocity: int | None = None):
        s = self.settings
        note = s.note if note is None else int(note)
        velocity = s.velocity if velocity is None else int(velocity)
        if not (0 <= note <= 127 and 1 <= velocity <= 127):
            raise SynthError(f"MIDI note must be 0..127 and velocity 1..127 (got {note}, {velocity})")
        return (rows, note, velocity, s.hold, s.duration)

    def render(self, params: np.ndarray, progress: bool = False, chunk: int = 16, note: int | None = None,
               velocity: int | None = None, failed: list[int] | None = None) -> np.ndarray:
        """Render `params[N, P]` (normalised, full plugin vectors) -> `audio[N, T]` float32, at the settings'
        MIDI note and velocity unless `note` / `velocity` are given (the models always use the settings'), e.g.
        a matched input's own pitch. Chunks of at most `chunk` rows, and at least one per worker, run on idle
        workers in parallel. A row on which the plugin crashes raises `SynthError` naming the row and the
        plugin's message, after every other row is rendered; with a list as `failed` it is silent instead and
        its position goes into `failed` (searches that must get past such corners of the plugin)."""
        params = self._check(params)
        self._payload(params[:0], note, velocity)  # refuse a bad note before any work
        n = len(params)
        out = np.empty((n, self.settings.n_samples), np.float32)
        if n == 0:
            return out
        chunk = max(1, min(chunk, -(-n // len(self._workers))))
        chunks = [(i, min(n, i + chunk)) for i in range(0, n, chunk)]
        bar = tqdm(total=n, desc="render", unit="sound") if progress else None

        crashed: list[tuple[int, str]] = []

        def run(span):
            a, b = span
            out[a:b], bad = self._call("render", self._payload(params[a:b], note, velocity))
            crashed.extend((a + k, msg) for k, msg in bad)
            if bar is not None:
                bar.update(b - a)

        try:
            if len(chunks) == 1:
                run(chunks[0])
            else:
                with ThreadPoolExecutor(min(len(chunks), len(self._workers))) as ex:
                    list(ex.map(run, chunks))
        finally:
            if bar is not None:
                bar.close()
        if crashed:
            crashed.sort()
            if failed is None:
                raise SynthError(f"{len(crashed)} of {n} parameter vectors could not be rendered; row {crashed[0][0]}: "
                                 f"{crashed[0][1]}")
            failed.extend(i for i, _ in crashed)
        return out

    def render_one(self, values: np.ndarray, note: int | None = None, velocity: int | None = None) -> np.ndarray:
        """Render one full normalised vector `values[P]` -> `audio[T]` (at `note` / `velocity` when given)."""
        return self.render(np.asarray(values)[None], note=note, velocity=velocity)[0]

    def render_with_texts(self, values: np.ndarray, note: int | None = None,
                          velocity: int | None = None) -> tuple[np.ndarray, list[str]]:
        """One full vector `values[P]` -> (`audio[T]`, the display text of every parameter), from one render
        child (no second process for the texts). The audio is `render_one`'s, bit for bit."""
        row = self._check(np.asarray(values)[None])
        w = next((x for x in reversed(self._workers) if not x.lock.locked()), self._workers[-1])
        audio, texts = w.call("render_texts", self._payload(row, note, velocity))
        out = np.zeros(self.settings.n_samples, np.float32)
        out[: len(audio)] = audio
        return out, list(texts)

    def plugin_render_time(self, values: np.ndarray) -> float:
        """Seconds the plugin itself takes for one render (no process overhead): the floor."""
        row = self._check(np.asarray(values)[None])[0]
        return float(self._call("timing", self._payload(row)))

    def describe(self) -> dict:
        return {"plugin": self.plugin_path, "settings": asdict(self.settings), "n_params": self.n_params}
