"""Flows: exact invertibility (v -> z -> v, z -> v -> z), log-determinants against autograd Jacobians,
save/load identity."""

from __future__ import annotations

import io

import pytest
import torch

from explorer.models import build_model, make_config
from explorer.models.nets import AutoregressiveStack, RegressionFlow

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def f64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _stack(d: int = 4, steps: int = 3, context: int = 0) -> AutoregressiveStack:
    torch.manual_seed(0)
    s = AutoregressiveStack(d, steps, hidden=16, context=context).double()
    s.randomize(0.3)
    return s


@pytest.mark.parametrize("context", [0, 5])
def test_stack_logdet_matches_autograd(context):
    s = _stack(context=context)
    c = torch.randn(context, dtype=torch.float64) if context else None
    x = torch.randn(4, dtype=torch.float64)
    y, ladj = s(x[None], None if c is None else c[None])
    jac = torch.autograd.functional.jacobian(lambda a: s(a[None], None if c is None else c[None])[0][0], x)
    assert torch.allclose(ladj[0], torch.linalg.slogdet(jac)[1], atol=1e-8)
    # the identity start of a fresh stack is not what we are testing: the map must be non-trivial
    assert (y[0] - x).abs().max() > 1e-2


def test_stack_inverse_exact():
    s = _stack(context=3)
    x, c = torch.randn(7, 4, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    y, _ = s(x, c)
    assert torch.allclose(s.inverse(y, c), x, atol=1e-10)



@pytest.mark.parametrize("context", [0, 3])
def test_stack_inverse_is_zukos_bit_for_bit(context):
    # `inverse` writes zuko's sequential inverse out by hand (for speed); it must give the same bits,
    # one point and a batch, float32 as the app runs it, and keep the gradient zuko's inverse has.
    torch.manual_seed(2)
    s = AutoregressiveStack(6, 4, hidden=16, context=context)
    s.randomize(0.3)
    for b in (1, 9):
        y = torch.randn(b, 6, requires_grad=True)
        c = torch.randn(b, context) if context else None
        ref = y
        for step in reversed(s.steps):
            ref = step(c).inv(ref)
        ours = s.inverse(y, c)
        assert torch.equal(ours, ref)
        (g_ref,) = torch.autograd.grad(ref.square().sum(), y)
        (g_ours,) = torch.autograd.grad(ours.square().sum(), y)
        assert torch.allclose(g_ours, g_ref, rtol=1e-5, atol=1e-6) and g_ours.abs().max() > 0

def _regflow(d: int = 6) -> RegressionFlow:
    torch.manual_seed(1)
    f = RegressionFlow(d, steps=3, hidden=16, sigma=0.1).double()
    f.maf.randomize(0.3)
    return f


def test_regression_flow_round_trips():
    f = _regflow()
    z = torch.randn(32, 6, dtype=torch.float64) * 2
    v = f.latent_to_params(z)
    assert ((v > 0) & (v < 1)).all()
    assert torch.allclose(f.params_to_latent(v)[0], z, atol=1e-4)  # z -> v -> z
    v2 = torch.rand(32, 6, dtype=torch.float64) * 0.99 + 0.005
    assert torch.allclose(f.latent_to_params(f.params_to_latent(v2)[0]), v2, atol=1e-4)  # v -> z -> v


def test_regression_flow_logdet_and_likelihood():
    f = _regflow(4)
    v = torch.rand(4, dtype=torch.float64) * 0.9 + 0.05
    _, ladj = f.params_to_latent(v[None])
    jac = torch.autograd.functional.jacobian(lambda a: f.params_to_latent(a[None])[0][0], v)
    assert torch.allclose(ladj[0], torch.linalg.slogdet(jac)[1], atol=1e-8)
    # log p(v | z) is a normalised density on (0, 1)^D: check in 1-D by quadrature
    g = _regflow(2)
    z = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    grid = torch.linspace(1e-4, 1 - 1e-4, 801, dtype=torch.float64)
    vv = torch.cartesian_prod(grid, grid)
    # the likelihood squeezes targets into [1e-3, 1 - 1e-3]; undo it for the density of v itself
    dens = g.log_prob(vv, z.expand(len(vv), 2)).exp() * (1 - 2e-3) ** 2
    total = torch.trapezoid(torch.trapezoid(dens.view(801, 801), grid), grid)
    assert abs(total.item() - 1.0) < 2e-2


def test_flow_dis_model_round_trip(f64):
    torch.manual_seed(2)
    m = build_model("debug", make_config("debug", n_params=8, n_pairs=2)).double().eval()
    m.regressor.maf.randomize(0.3)
    x = torch.randn(5, 1, 64, 80)
    z = m.encode(x)
    v = m.decode(z)
    assert torch.allclose(m.params_to_latent(v), z, atol=1e-4)
    assert torch.allclose(m.infer(x), v)
    v2 = torch.rand(5, 8) * 0.98 + 0.01
    assert torch.allclose(m.decode(m.params_to_latent(v2)), v2, atol=1e-4)


def test_flow_save_load_identity():
    f = _regflow()
    buf = io.BytesIO()
    torch.save(f.state_dict(), buf)
    buf.seek(0)
    torch.manual_seed(123)
    g = RegressionFlow(6, steps=3, hidden=16, sigma=0.1).double()
    z = torch.randn(4, 6, dtype=torch.float64)
    assert not torch.allclose(g.latent_to_params(z), f.latent_to_params(z))  # fresh g is different
    g.load_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(g.latent_to_params(z), f.latent_to_params(z))
