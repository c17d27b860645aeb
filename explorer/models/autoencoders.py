"""Auto-encoder family with an MLP regressor z -> v: AE, VAE (KL), WAE (MMD), VAE-Flow (IAF posterior).

Per-sample loss: `recon + beta * w * regulariser + [reg_on] * regression`, where recon is the Gaussian
NLL of the normalised log-mel (summed over 64 x 80 pixels), beta the warm-up weight (0 -> 1), and the
regression term `reg_weight * sum_P (v_hat - v)^2` (a Gaussian likelihood with sigma ~ 0.03, so it is
not drowned by the 5,120-pixel reconstruction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import ModelConfig, SynthModel
from .nets import (
    AutoregressiveStack,
    ConvDecoder,
    ConvEncoder,
    MLPRegressor,
    diag_normal_logp,
    recon_loss,
)


@dataclass
class AEConfig(ModelConfig):
    channels: tuple[int, ...] = (16, 32, 64, 128)  # about half the baselines' width, as in the paper
    hidden: int = 256
    reg_hidden: int = 128
    reg_weight: float = 500.0
    epochs: int = 60
    beta_warmup: int = 10
    reg_start: int = 5


@dataclass
class VAEConfig(AEConfig):
    pass


@dataclass
class WAEConfig(AEConfig):
    mmd_weight: float = 100.0


@dataclass
class VAEFlowConfig(AEConfig):
    flow_steps: int = 16
    flow_hidden: int = 64


class AE(SynthModel):
    """Deterministic auto-encoder; encode(x) = head(encoder(x))."""

    has_latent = True
    variational = False

    def __init__(self, cfg: AEConfig) -> None:
        super().__init__(cfg)
        d = self.latent_dim
        self.encoder = ConvEncoder(cfg.channels, cfg.hidden)
        self.head = nn.Linear(cfg.hidden, 2 * d if self.variational else d)
        self.decoder = ConvDecoder(d, cfg.channels, cfg.hidden)
        self.regressor = self._make_regressor(cfg)

    def _make_regressor(self, cfg: AEConfig) -> nn.Module:
        return MLPRegressor(self.latent_dim, cfg.n_params, cfg.reg_hidden)

    # --- latent ------------------------------------------------------------------------------
    def latent(self, x: Tensor, tags: Tensor | None, sample: bool) -> tuple[Tensor, Tensor]:
        """x `Tensor[B, 1, 64, 80]` -> (z `Tensor[B, D]`, regulariser `Tensor[]`: KL / MMD / 0)."""
        z = self.head(self.encoder(x))
        return z, z.new_zeros(())

    def encode(self, x: Tensor) -> Tensor:
        """Deterministic code `Tensor[B, D]` (posterior mean, pushed through any flow)."""
        return self.latent(x, None, sample=False)[0]

    def decode(self, z: Tensor) -> Tensor:
        """z `Tensor[B, D]` -> v `Tensor[B, P]` in (0, 1)."""
        return self.regressor(z)

    # --- training ----------------------------------------------------------------------------
    def regression_loss(self, z: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """-> (loss `Tensor[]`, prediction `Tensor[B, P]`)."""
        v_hat = self.regressor(z)
        return self.cfg.reg_weight * ((v_hat - v) ** 2).sum(-1).mean(), v_hat

    def loss(self, x: Tensor, v: Tensor, tags: Tensor, beta: float = 1.0,
             reg_on: bool = True, target: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        z, regu = self.latent(x, tags, sample=self.training)
        rec = recon_loss(self.decoder(z), x if target is None else target)
        reg, v_hat = self.regression_loss(z, v)
        extra, logs = self.extra_loss(z, tags)
        spec = self.spectral_loss(v_hat, x, x if target is None else target, logs)
        reg = reg + spec
        # 0 * reg keeps every parameter in the graph before the switch-on (DDP expects gradients for all)
        total = rec + beta * regu + (reg if reg_on else 0.0 * reg) + extra
        logs.update({"loss": total.item(), "recon": rec.item(), "latent": regu.item(), "reg": reg.item(),
                     **self.param_logs(v_hat.detach(), v)})
        return total, logs

    def param_logs(self, v_hat: Tensor, v: Tensor) -> dict[str, float]:
        """Logged errors of the prediction `v_hat[B, P]`: always `param_mse`."""
        return {"param_mse": ((v_hat - v) ** 2).mean().item()}

    def extra_loss(self, z: Tensor, tags: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Hook for family-specific terms on the training latent z `Tensor[B, D]`."""
        return z.new_zeros(()), {}

    def spectral_loss(self, v_hat: Tensor, x: Tensor, clean: Tensor, logs: dict[str, float]) -> Tensor:
        """Hook for a term on how the prediction `v_hat[B, P]` sounds against the encoder's input x or
        the clean sound (they differ under augmentation; part of the regression term, so switched on with
        it); may add entries to `logs`."""
        return v_hat.new_zeros(())


class VAE(AE):
    """Gaussian posterior N(mu, sigma^2), analytic KL to N(0, I)."""

    variational = True

    def gaussian(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """-> (mu, log_sigma: `Tensor[B, D]`, encoder features `Tensor[B, hidden]`)."""
        h = self.encoder(x)
        mu, log_sigma = self.head(h).chunk(2, dim=-1)
        # bounded log-sigma: avoids exp overflow early in training without limiting useful values
        return mu, 6.0 * torch.tanh(log_sigma / 6.0), h

    def latent(self, x: Tensor, tags: Tensor | None, sample: bool) -> tuple[Tensor, Tensor]:
        mu, log_sigma, _ = self.gaussian(x)
        z = mu + torch.randn_like(mu) * log_sigma.exp() if sample else mu
        kl = 0.5 * (mu ** 2 + (2 * log_sigma).exp() - 1 - 2 * log_sigma).sum(-1).mean()
        return z, kl


def mmd_imq(z: Tensor, prior: Tensor) -> Tensor:
    """MMD with the inverse multiquadratic kernel (WAE paper), C = 2 D. z, prior: `Tensor[B, D]`."""
    n, d = z.shape
    c = 2.0 * d

    def k(a: Tensor, b: Tensor) -> Tensor:
        return c / (c + torch.cdist(a, b) ** 2)

    off = 1.0 - torch.eye(n, device=z.device, dtype=z.dtype)
    kzz = (k(z, z) * off).sum() / (n * (n - 1))
    kpp = (k(prior, prior) * off).sum() / (n * (n - 1))
    kzp = k(z, prior).mean()
    return kzz + kpp - 2 * kzp


class WAE(AE):
    """Deterministic encoder; aggregate posterior matched to N(0, I) by MMD (Tolstikhin et al. 2018)."""

    def latent(self, x: Tensor, tags: Tensor | None, sample: bool) -> tuple[Tensor, Tensor]:
        z = self.head(self.encoder(x))
        if not sample or z.shape[0] < 2:
            return z, z.new_zeros(())
        return z, self.cfg.mmd_weight * mmd_imq(z, torch.randn_like(z))


class VAEFlow(VAE):
    """VAE whose posterior sample goes through `flow_steps` IAF steps conditioned on the encoder
    features. KL by single-sample Monte Carlo: log q0(z0) - log|det| - log p(z_K)."""

    def __init__(self, cfg: VAEFlowConfig) -> None:
        super().__init__(cfg)
        self.iaf = AutoregressiveStack(self.latent_dim, cfg.flow_steps, cfg.flow_hidden, context=cfg.hidden)

    def prior_logp(self, z: Tensor, tags: Tensor | None) -> Tensor:
        return diag_normal_logp(z, 0.0, 0.0)

    def posterior(self, x: Tensor, sample: bool) -> tuple[Tensor, Tensor]:
        """-> (z_K `Tensor[B, D]`, log q(z_K | x) `Tensor[B]`). Without sampling z_0 is the mean."""
        mu, log_sigma, h = self.gaussian(x)
        eps = torch.randn_like(mu) if sample else torch.zeros_like(mu)
        z0 = mu + eps * log_sigma.exp()
        logq0 = (-0.5 * eps ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)).sum(-1)
        zk, ladj = self.iaf(z0, h)
        return zk, logq0 - ladj

    def latent(self, x: Tensor, tags: Tensor | None, sample: bool) -> tuple[Tensor, Tensor]:
        z, logq = self.posterior(x, sample)
        return z, (logq - self.prior_logp(z, tags)).mean()
