"""The closed-form derivatives of the Gaussian MLP policy (metarl/algos/gaussian_mlp.py) equal
autograd's: the inner loss's gradient and Hessian-vector product, and the KL's Hessian."""

from __future__ import annotations

import pytest
import torch

from metarl.adapt import inner_gradients
from metarl.algos import gaussian_mlp
from metarl.algos.fisher import AdaptationFisher, _AutogradInner, _AutogradKL
from metarl.episodes import Episodes
from metarl.policy import CategoricalMLPPolicy, GaussianMLPPolicy, expand_params

F64 = torch.float64
T, N, E, OBS, ACT = 9, 3, 4, 5, 2


def episodes(seed: int) -> Episodes:
    """Random episodes of unequal lengths (so the mask matters), with advantages."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, T + 1, (N, E), generator=g)
    mask = (torch.arange(T).view(T, 1, 1) < lengths).to(F64)
    return Episodes(
        observations=torch.randn(T, N, E, OBS, generator=g, dtype=F64),
        actions=torch.randn(T, N, E, ACT, generator=g, dtype=F64),
        rewards=torch.randn(T, N, E, generator=g, dtype=F64),
        mask=mask,
        advantages=torch.randn(T, N, E, generator=g, dtype=F64) * mask,
    )


def per_task_params(policy: GaussianMLPPolicy, seed: int) -> dict[str, torch.Tensor]:
    """Distinct parameters for every task, as after an inner step."""
    g = torch.Generator().manual_seed(seed)
    return {
        k: v.detach() + 0.3 * torch.randn(N, *v.shape, generator=g, dtype=F64)
        for k, v in policy.params().items()
    }


def direction(params: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g, dtype=F64) for k, v in params.items()}


POLICIES = [
    pytest.param("relu", (7, 6), id="relu"),
    pytest.param("tanh", (7, 6), id="tanh"),
    pytest.param("relu", (6,), id="relu-one-hidden-layer"),
    pytest.param("tanh", (4, 6, 5), id="tanh-three-hidden-layers"),
]


def make_policy(activation: str, hidden: tuple[int, ...]) -> GaussianMLPPolicy:
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(OBS, ACT, hidden, activation, init_log_std=-0.5).to(F64)
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.7, 0.2]))  # unequal, so a swapped axis shows
    return policy


def close(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)
    for k in expected:
        assert got[k].shape == expected[k].shape, k
        torch.testing.assert_close(got[k], expected[k], rtol=1e-10, atol=1e-12, msg=k)


@pytest.mark.parametrize(("activation", "hidden"), POLICIES)
@pytest.mark.parametrize("shared", [False, True], ids=["per-task", "shared"])
def test_inner_gradient_and_hessian_equal_autograd(activation, hidden, shared):
    policy = make_policy(activation, hidden)
    data = episodes(1)
    if shared:  # the first inner step: the meta-parameters, expanded to every task
        params = expand_params({k: v.detach() for k, v in policy.params().items()}, N)
    else:
        params = per_task_params(policy, 2)
    closed = gaussian_mlp.PolicyGradientHessian(policy, params, data)
    reference = _AutogradInner(policy, params, data, with_hessian=True)
    close(dict(zip(params, closed.gradients)), dict(zip(params, reference.gradients)))
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    grads = inner_gradients(policy, leaves, data, create_graph=False)
    close(dict(zip(params, closed.gradients)), dict(zip(params, grads)))
    for seed in (3, 4):
        t = direction(params, seed)
        close(closed.hvp(t), reference.hvp(t))


@pytest.mark.parametrize(("activation", "hidden"), POLICIES)
def test_kl_hessian_equals_autograd(activation, hidden):
    policy = make_policy(activation, hidden)
    data, old = episodes(5), per_task_params(policy, 6)
    closed = gaussian_mlp.KLHessian(policy, old, data)
    reference = _AutogradKL(policy, old, data)
    for seed in (7, 8):
        t = direction(old, seed)
        close(closed.hvp(t), reference.hvp(t))


def test_hessians_are_linear_in_the_direction():
    policy = make_policy("tanh", (7, 6))
    params, data = per_task_params(policy, 2), episodes(1)
    inner = gaussian_mlp.PolicyGradientHessian(policy, params, data)
    a, b = direction(params, 3), direction(params, 4)
    mixed = inner.hvp({k: 2 * a[k] - b[k] for k in a})
    ha, hb = inner.hvp(a), inner.hvp(b)
    close(mixed, {k: 2 * ha[k] - hb[k] for k in a})


def test_supports_only_the_gaussian_mlp_it_writes_out(monkeypatch):
    assert gaussian_mlp.supports(GaussianMLPPolicy(OBS, ACT, (4,), "relu"))
    assert gaussian_mlp.supports(GaussianMLPPolicy(OBS, ACT, (4,), "tanh"))
    assert not gaussian_mlp.supports(CategoricalMLPPolicy(OBS, 3, (4,)))

    class Tweaked(GaussianMLPPolicy):  # may change its distribution: autograd handles it
        pass

    assert not gaussian_mlp.supports(Tweaked(OBS, ACT, (4,)))
    monkeypatch.setenv("METARL_CLOSED_FORM", "0")  # autograd everywhere, to compare
    assert not gaussian_mlp.supports(GaussianMLPPolicy(OBS, ACT, (4,), "relu"))


def test_closed_form_is_refused_for_a_policy_without_one():
    policy = CategoricalMLPPolicy(OBS, 3, (4,)).to(F64)
    data = episodes(1)
    data.actions = torch.zeros(T, N, E, 1, dtype=F64)
    params = {k: v.detach() for k, v in policy.params().items()}
    with pytest.raises(ValueError, match="closed_form=True needs a GaussianMLPPolicy"):
        AdaptationFisher(policy, params, 0.1, [data], data, expand_params(params, N), False, True)
    # Without closed_form, the same policy gets autograd's products.
    fisher = AdaptationFisher(policy, params, 0.1, [data], data, expand_params(params, N))
    assert not fisher.closed_form
    size = sum(v.numel() for v in params.values())
    assert fisher(torch.ones(size, dtype=F64)).isfinite().all()


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
        ),
    ],
)
def test_closed_forms_run_on_the_data_device(device):
    policy = make_policy("relu", (7, 6))
    params = {k: v.to(device) for k, v in per_task_params(policy, 2).items()}
    t = {k: v.to(device) for k, v in direction(params, 3).items()}
    cpu_data = episodes(1)
    data = Episodes(
        *(getattr(cpu_data, f).to(device) for f in ("observations", "actions", "rewards", "mask"))
    )
    data.advantages = cpu_data.advantages.to(device)
    policy.to(device)
    inner = gaussian_mlp.PolicyGradientHessian(policy, params, data)
    got = inner.hvp(t)
    assert all(v.device.type == device for v in got.values())
    close(got, _AutogradInner(policy, params, data, with_hessian=True).hvp(t))
    kl = gaussian_mlp.KLHessian(policy, params, data).hvp(t)
    close(kl, _AutogradKL(policy, params, data).hvp(t))
