"""Every model family: shapes, ranges, deterministic encode, gradients, family-specific losses."""

from __future__ import annotations

import pytest
import torch

from explorer.models import REGISTRY, build_model, make_config
from explorer.models.autoencoders import mmd_imq

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {  # small widths so the whole registry builds and steps in about a second
    "mlp": {"hidden": (32, 16)},
    "cnn": {"channels": (4, 8, 8, 8), "hidden": 16},
    "resnet": {"channels": (4, 8, 8, 8), "hidden": 16},
    **{k: {"channels": (4, 8, 8, 8), "hidden": 16, "reg_hidden": 8}
       for k in ("ae", "vae", "wae", "vae_flow", "flow_reg", "flow_dis")},
}
P, PAIRS = 6, 3


def test_registry_names():
    assert set(REGISTRY) == {"mlp", "cnn", "resnet", "ae", "vae", "wae", "vae_flow", "flow_reg", "flow_dis",
                             "debug"}
    assert make_config("vae_flow").flow_steps == 16  # the paper's 16 IAF steps
    with pytest.raises(KeyError, match="unknown model"):
        make_config("gan")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_model_contract(name):
    torch.manual_seed(0)
    m = build_model(name, make_config(name, n_params=P, n_pairs=PAIRS, **TINY.get(name, {})))
    x, v = torch.randn(4, 1, 64, 80), torch.rand(4, P)
    tags = torch.tensor([[1, 0, -1], [0, 0, 0], [-1, 1, 0], [1, 1, 1]], dtype=torch.int8)
    m.train()
    loss, logs = m(x, v, tags, 0.5, True)
    assert loss.ndim == 0 and torch.isfinite(loss) and "param_mse" in logs
    loss.backward()
    # every parameter takes part (DistributedDataParallel requires it, even before reg_start)
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert not missing, missing
    m.eval()
    with torch.no_grad():
        out = m.infer(x)
        assert out.shape == (4, P) and ((out >= 0) & (out <= 1)).all()
        if m.has_latent:
            z = m.encode(x)
            assert z.shape == (4, P) and m.latent_dim == P
            assert torch.equal(m.encode(x), z)  # deterministic: no sampling at inference
            assert torch.allclose(m.decode(z), out)
        else:
            with pytest.raises(NotImplementedError):
                m.encode(x)
        if not m.invertible:
            with pytest.raises(NotImplementedError, match="invertible"):
                m.params_to_latent(v)
    assert m.invertible == (name in ("flow_reg", "flow_dis", "debug"))


def test_regression_switch_and_beta():
    torch.manual_seed(0)
    m = build_model("vae", make_config("vae", n_params=P, **TINY["vae"])).eval()
    x, v, t = torch.randn(4, 1, 64, 80), torch.rand(4, P), torch.zeros(4, 0)
    off, logs = m.loss(x, v, t, beta=0.0, reg_on=False)
    on, _ = m.loss(x, v, t, beta=0.0, reg_on=True)
    assert torch.isclose(off, torch.tensor(logs["recon"]), rtol=1e-5)  # beta 0, regression off
    assert torch.isclose(on - off, torch.tensor(logs["reg"]), atol=2e-3)
    full, _ = m.loss(x, v, t, beta=1.0, reg_on=True)
    assert torch.isclose(full - on, torch.tensor(logs["latent"]), atol=2e-3)


def test_mmd_detects_mismatch():
    torch.manual_seed(0)
    a, b = torch.randn(256, 4), torch.randn(256, 4)
    assert mmd_imq(a, b).abs() < 0.01
    assert mmd_imq(a + 2.0, b) > 0.1


def test_flow_dis_targets_every_pair():
    cfg = make_config("flow_dis", n_params=P, n_pairs=PAIRS, **TINY["flow_dis"])
    m = build_model("flow_dis", cfg)
    assert m.semantic_dims == [0, 1, 2]
    tags = torch.tensor([[1, -1, 0]], dtype=torch.int8)
    mu, log_s = m._targets(torch.zeros(1, P), tags)
    assert mu[0].tolist() == [1, -1, 0, 0, 0, 0]
    s = cfg.dis_sigma
    assert torch.allclose(log_s[0].exp(), torch.tensor([s, s, 1, 1, 1, 1]))
    good = torch.tensor([[1.0, -1.0, 0.0, 0, 0, 0]])
    bad = torch.tensor([[-1.0, 1.0, 0.0, 0, 0, 0]])
    assert m.extra_loss(good, tags)[0] < m.extra_loss(bad, tags)[0]
    # more pairs than latent dims: the extra pairs get no dim, the rest still one each
    m2 = build_model("flow_dis", make_config("flow_dis", n_params=2, n_pairs=PAIRS, **TINY["flow_dis"]))
    assert m2.semantic_dims == [0, 1]
