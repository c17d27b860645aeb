"""Stage 3, models: the model families (one file each: `regressors` (MLP, CNN, ResNet), `autoencoders`,
`flows`, on `base` and `nets`), the registry name -> (ModelClass, ConfigDataclass) below, checkpoints
(`checkpoint`) and training (`train`, `python -m explorer.models.train`; `distributed`).

May import: synth, data.
"""

from __future__ import annotations

from typing import Any

from .autoencoders import (
    AE,
    VAE,
    WAE,
    AEConfig,
    VAEConfig,
    VAEFlow,
    VAEFlowConfig,
    WAEConfig,
)
from .base import ModelConfig, SynthModel
from .flows import DebugConfig, FlowDis, FlowDisConfig, FlowReg, FlowRegConfig
from .regressors import CNN, MLP, CNNConfig, MLPConfig, ResNet, ResNetConfig

REGISTRY: dict[str, tuple[type[SynthModel], type[ModelConfig]]] = {
    "mlp": (MLP, MLPConfig),
    "cnn": (CNN, CNNConfig),
    "resnet": (ResNet, ResNetConfig),
    "ae": (AE, AEConfig),
    "vae": (VAE, VAEConfig),
    "wae": (WAE, WAEConfig),
    "vae_flow": (VAEFlow, VAEFlowConfig),
    "flow_reg": (FlowReg, FlowRegConfig),
    "flow_dis": (FlowDis, FlowDisConfig),
    "debug": (FlowDis, DebugConfig),
}


def make_config(name: str, **overrides: Any) -> ModelConfig:
    """Default config of model `name` with `overrides` (unknown keys are an error)."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name][1](**overrides)


def build_model(name: str, config: ModelConfig | dict[str, Any]) -> SynthModel:
    """Instantiate model `name` from a config dataclass or its dict form (as stored in checkpoints)."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    cls, cfg_cls = REGISTRY[name]
    cfg = cfg_cls.from_dict(config) if isinstance(config, dict) else config
    return cls(cfg)


__all__ = ["REGISTRY", "ModelConfig", "SynthModel", "build_model", "make_config"]
