"""Search over the plugin's stepped parameters that the model does not predict (the matching pipeline's step 4).

A model of a parameter subset (16 or 30 continuous amsynth parameters) leaves everything else at the plugin's
initial preset: both oscillators saw, low-pass filter. Many outside sounds want another waveform or filter (a
clarinet's odd harmonics, a "tss"): no continuous refinement can get there. This step tries, one parameter
at a time in the plugin's order, every other value of each stepped parameter outside the model's set with at
most `max_steps` values, keeping a change when it lowers the log-mel L1. Nothing here names a plugin's
parameter: what is stepped and how many values it has comes from the host (`explorer.synth.host.Param`).

Measured with a one-off script (not in the repository) on the 44 out-of-domain sounds, from the `--fast`
pick of `flow_reg_30` (log-mel L1 0.955): one pass over amsynth's 9 such parameters (31 renders) gives
0.896; with osc2_pitch's 25 steps as well (55 renders) 0.890; trying the 35 combinations of the two
waveforms and of filter type x slope plus osc2_range 0.908 (43 renders); screening every single change at
once, then combining the winners, twice, 0.890 with 107 renders. `max_steps` 8 keeps the one pass without
osc2_pitch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

MAX_STEPS = 8


def searchable(params: Sequence, model_indices: Sequence[int], max_steps: int = MAX_STEPS) -> list:
    """The host's stepped parameters outside `model_indices` with 2..`max_steps` values, in plugin order."""
    own = {int(i) for i in model_indices}
    return [p for p in params if 2 <= p.steps <= max_steps and p.index not in own]


def planned(params: Sequence) -> int:
    """Renders one pass takes: every value of each parameter but the current one."""
    return sum(p.steps - 1 for p in params)


def coordinate_pass(start: np.ndarray, start_l1: float, params: Sequence,
                    score: Callable[[np.ndarray], np.ndarray],
                    keep_going: Callable[[int], bool] | None = None) -> tuple[np.ndarray, float, int]:
    """One pass: for each parameter (`explorer.synth.host.Param`), render the start with each of its other
    values (`score(rows[N, P])` -> log-mel L1 `[N]`), keep the best if it beats the current one.
    `keep_going(renders so far)`, asked before each parameter, ends the pass early when it returns False
    (a time cap, a cancel). Returns (best full vector, its L1, renders)."""
    cur, cur_l1, renders = np.asarray(start, np.float64).copy(), float(start_l1), 0
    for p in params:
        if keep_going is not None and not keep_going(renders):
            break
        now = float(p.quantise(np.float64(cur[p.index])))  # the step the current value stands for
        values = [v for v in np.linspace(0.0, 1.0, p.steps) if abs(v - now) > 1e-9]
        rows = np.repeat(cur[None], len(values), 0)
        rows[:, p.index] = values
        l1 = np.asarray(score(rows), np.float64)
        renders += len(rows)
        j = int(np.argmin(l1))
        if l1[j] < cur_l1:
            cur, cur_l1 = rows[j].copy(), float(l1[j])
    return cur, cur_l1, renders
