"""Flow models: Flow_reg (VAE-Flow whose regressor is an invertible regression flow z <-> v) and Flow_dis
(Flow_reg plus disentangling flows: every tag pair of the dataset steers its own latent dim), and the
tiny random `debug` model (Flow_dis architecture) used by other modules' tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .autoencoders import VAEFlow, VAEFlowConfig
from .nets import AutoregressiveStack, RegressionFlow, diag_normal_logp


@dataclass
class FlowRegConfig(VAEFlowConfig):
    reg_flow_steps: int = 4
    reg_flow_hidden: int = 64
    # std of the latent noise in the regression likelihood: 0.1 made the term ~40x the reconstruction at
    # switch-on (targets at 0 / 1 have logits of +-6.9) and swamped the auto-encoder
    reg_sigma: float = 0.5
    mse_weight: float = 300.0  # weight of sum_P (decode(z) - v)^2 beside the likelihood (audio accuracy)
    # per-parameter weights of that squared error (empty: all 1); `explorer.models.param_weights` measures
    # them from the synth's sensitivity, so the loss spends itself where the sound changes
    param_weights: tuple[float, ...] = ()
    # weight of the spectral term: the mean L1 between the normalised log-mel a frozen surrogate of the
    # synth (`explorer.models.surrogate`, file `surrogate`) gives for the prediction and the input's own;
    # 0: off. Fine-tuning with it (`train --init`) pulls the prediction towards parameters that sound right
    spectral_weight: float = 0.0
    surrogate: str = ""
    # compare with the encoder's input ("input": under `augment`, the augmented sound, so the model learns
    # the preset that best imitates what it hears) or with the clean sound ("clean")
    spectral_target: str = "clean"
    # unlabelled sounds from outside the dataset (`explorer.evaluate.ood_adapt`'s adapt.npz): each step adds
    # `adapt_weight` x the surrogate's log-mel L1 between the prediction for `adapt_batch` of them and their
    # own log-mel (they have no parameters; `explorer.models.adapt`); 0: off. Needs `surrogate`
    adapt: str = ""
    adapt_weight: float = 0.0
    adapt_batch: int = 16


@dataclass
class FlowDisConfig(FlowRegConfig):
    dis_steps: int = 2
    dis_hidden: int = 32
    dis_sigma: float = 0.5  # std s of the targets N(-1, s) / N(+1, s) of tagged examples
    # weight of the semantic term outside the (warmed-up) KL; at 1 the axes had barely formed after
    # 1.4 epochs on ds16 (class means within 0.2 of each other), the reconstruction term is ~40x larger
    dis_weight: float = 10.0
    # "tags": targets N(-1, s) / N(+1, s) for tagged examples only (the paper); "descriptor": every example
    # targets N(g, s), g its descriptor mapped through the train split's ranks onto N(0, 1), so the dim
    # follows the descriptor continuously instead of two thresholded clusters (issue 12)
    dis_target: str = "tags"


@dataclass
class DebugConfig(FlowDisConfig):
    """Tiny widths: builds and runs in milliseconds; weights are random (not trained)."""

    channels: tuple[int, ...] = (4, 8, 8, 8)
    hidden: int = 16
    reg_hidden: int = 8
    flow_steps: int = 2
    flow_hidden: int = 8
    reg_flow_steps: int = 2
    reg_flow_hidden: int = 8
    dis_steps: int = 1
    dis_hidden: int = 8
    epochs: int = 2
    beta_warmup: int = 1
    reg_start: int = 0


class FlowReg(VAEFlow):
    """z -> v through `RegressionFlow` (exactly invertible: `params_to_latent` is its inverse)."""

    invertible = True

    def __init__(self, cfg: FlowRegConfig) -> None:
        super().__init__(cfg)
        if cfg.param_weights and len(cfg.param_weights) != cfg.n_params:
            raise ValueError(f"param_weights has {len(cfg.param_weights)} values for {cfg.n_params} parameters")

    def _make_regressor(self, cfg: FlowRegConfig) -> RegressionFlow:
        return RegressionFlow(self.latent_dim, cfg.reg_flow_steps, cfg.reg_flow_hidden, cfg.reg_sigma)

    def decode(self, z: Tensor) -> Tensor:
        """z `Tensor[B, D]` -> v `Tensor[B, P]` in (0, 1)."""
        return self.regressor.latent_to_params(z)

    def params_to_latent(self, v: Tensor) -> Tensor:
        """v `Tensor[B, P]` in [0, 1] -> z `Tensor[B, D]` (values clamped to [1e-6, 1 - 1e-6])."""
        return self.regressor.params_to_latent(v)[0]

    def _weighted_se(self, v_hat: Tensor, v: Tensor) -> Tensor:
        """`sum_P w_p (v_hat - v)^2` per example `Tensor[B]`."""
        se = (v_hat - v) ** 2
        if self.cfg.param_weights:
            se = se * torch.as_tensor(self.cfg.param_weights, dtype=se.dtype, device=se.device)
        return se.sum(-1)

    def regression_loss(self, z: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        nll = -self.regressor.log_prob(v, z).mean()
        v_hat = self.decode(z)
        return nll + self.cfg.mse_weight * self._weighted_se(v_hat, v).mean(), v_hat

    def surrogate(self, device: torch.device):
        """The frozen surrogate of `cfg.surrogate`, loaded once (a plain attribute: not in the state dict)."""
        sur = self.__dict__.get("_surrogate")
        if sur is None:
            if not self.cfg.surrogate:
                raise ValueError("the spectral and adaptation terms need a surrogate file (--set surrogate=PATH)")
            from .surrogate import load_surrogate

            sur = load_surrogate(self.cfg.surrogate, device=device)
            if sur.cfg.n_params != self.cfg.n_params:
                raise ValueError(f"surrogate {self.cfg.surrogate} has {sur.cfg.n_params} parameters, "
                                 f"the model {self.cfg.n_params}")
            self.__dict__["_surrogate"] = sur
        return sur

    def spectral_loss(self, v_hat: Tensor, x: Tensor, clean: Tensor, logs: dict[str, float]) -> Tensor:
        if self.cfg.spectral_weight <= 0:
            return v_hat.new_zeros(())
        if self.cfg.spectral_target not in ("clean", "input"):
            raise ValueError(f"spectral_target must be 'clean' or 'input', not {self.cfg.spectral_target!r}")
        spec = (self.surrogate(v_hat.device)(v_hat) - (x if self.cfg.spectral_target == "input" else clean)).abs()
        logs["spec"] = spec.mean().item()
        return self.cfg.spectral_weight * spec.mean()

    def unlabelled_spec(self, x: Tensor) -> Tensor:
        """Per sound `Tensor[B]`: the surrogate's normalised log-mel L1 between the deterministic prediction
        for x `Tensor[B, 1, 64, 80]` and x itself (sounds without parameters: `explorer.models.adapt`)."""
        v_hat = self.decode(self.encode(x))
        return (self.surrogate(x.device)(v_hat) - x).abs().flatten(1).mean(1)

    def param_logs(self, v_hat: Tensor, v: Tensor) -> dict[str, float]:
        logs = super().param_logs(v_hat, v)
        if self.cfg.param_weights:  # what training selects the best epoch on when set (`param_weights.select_key`)
            logs["param_wmse"] = (self._weighted_se(v_hat, v) / v.shape[-1]).mean().item()
        return logs


class FlowDis(FlowReg):
    """Flow_reg whose posterior ends with disentangling flow steps, and whose prior depends on the tags:
    on dim k (pair k), examples tagged negative / positive target N(-1, s^2) / N(+1, s^2), untagged
    ones N(0, 1); every other dim N(0, I). Pairs beyond the latent size get no dim."""

    def __init__(self, cfg: FlowDisConfig) -> None:
        super().__init__(cfg)
        self.dis = AutoregressiveStack(self.latent_dim, cfg.dis_steps, cfg.dis_hidden)
        self.n_sem = min(cfg.n_pairs, self.latent_dim)

    @property
    def semantic_dims(self) -> list[int]:
        return list(range(self.n_sem))

    def posterior(self, x: Tensor, sample: bool) -> tuple[Tensor, Tensor]:
        zk, logq = super().posterior(x, sample)
        z, ladj = self.dis(zk)
        return z, logq - ladj

    def _targets(self, z: Tensor, tags: Tensor) -> tuple[Tensor, Tensor]:
        """Per-dim prior (mean, log-std) `Tensor[B, D]` from tags `Tensor[B, n_pairs]` (in {-1, 0, 1}, or
        gaussianised descriptors when `dis_target` is "descriptor")."""
        mu, log_s = torch.zeros_like(z), torch.zeros_like(z)
        t = tags[:, : self.n_sem].to(z.dtype)
        mu[:, : self.n_sem] = t
        tagged = torch.ones_like(t, dtype=torch.bool) if self.cfg.dis_target == "descriptor" else t != 0
        log_s[:, : self.n_sem] = torch.where(tagged, math.log(self.cfg.dis_sigma), 0.0)
        return mu, log_s

    def prior_logp(self, z: Tensor, tags: Tensor | None) -> Tensor:
        if tags is None or self.n_sem == 0:
            return diag_normal_logp(z, 0.0, 0.0)
        mu, log_s = self._targets(z, tags)
        return diag_normal_logp(z, mu, log_s)

    def extra_loss(self, z: Tensor, tags: Tensor) -> tuple[Tensor, dict[str, float]]:
        # The KL term carries the same targets but is warmed up from 0; this un-warmed term lets the
        # semantic axes form from the first epoch of a short schedule.
        if self.n_sem == 0:
            return z.new_zeros(()), {}
        mu, log_s = self._targets(z, tags)
        n = self.n_sem
        nll = -diag_normal_logp(z[:, :n], mu[:, :n], log_s[:, :n]).mean()
        return self.cfg.dis_weight * nll, {"dis": nll.item()}
