import torch

from metarl.episodes import discounted_returns, gae, normalize_per_task


def test_discounted_returns_known_values():
    r = torch.tensor([1.0, 2.0, 3.0]).view(3, 1)
    m = torch.ones(3, 1)
    out = discounted_returns(r, m, gamma=0.5).view(-1)
    # R_2 = 3, R_1 = 2 + 0.5 * 3 = 3.5, R_0 = 1 + 0.5 * 3.5 = 2.75
    assert torch.allclose(out, torch.tensor([2.75, 3.5, 3.0]))


def test_returns_stop_at_episode_end():
    r = torch.tensor([1.0, 1.0, 5.0, 7.0]).view(4, 1)
    m = torch.tensor([1.0, 1.0, 0.0, 0.0]).view(4, 1)
    out = discounted_returns(r, m, gamma=0.9).view(-1)
    assert torch.allclose(out, torch.tensor([1.9, 1.0, 0.0, 0.0]))


def test_gae_known_values():
    r = torch.tensor([1.0, 0.0, 2.0]).view(3, 1)
    v = torch.tensor([0.5, 1.0, 1.5]).view(3, 1)
    m = torch.ones(3, 1)
    gamma, lam = 0.9, 0.8
    # delta_t = r_t + gamma V_{t+1} - V_t, with V_3 = 0
    d = [1 + 0.9 * 1.0 - 0.5, 0 + 0.9 * 1.5 - 1.0, 2 - 1.5]
    a2 = d[2]
    a1 = d[1] + gamma * lam * a2
    a0 = d[0] + gamma * lam * a1
    out = gae(r, v, m, gamma, lam).view(-1)
    assert torch.allclose(out, torch.tensor([a0, a1, a2]))


def test_gae_lambda_one_is_returns_minus_values():
    torch.manual_seed(0)
    r, v = torch.randn(6, 4), torch.randn(6, 4)
    m = torch.ones(6, 4)
    m[4:, 1] = 0
    expected = (discounted_returns(r, m, 0.99) - v) * m
    assert torch.allclose(gae(r, v, m, 0.99, 1.0), expected, atol=1e-5)


def test_gae_lambda_zero_is_td_error():
    r, v = torch.tensor([[1.0], [2.0]]), torch.tensor([[3.0], [4.0]])
    out = gae(r, v, torch.ones(2, 1), 0.5, 0.0).view(-1)
    assert torch.allclose(out, torch.tensor([1 + 0.5 * 4 - 3, 2 - 4.0]))


def test_normalize_per_task_ignores_masked_steps():
    torch.manual_seed(0)
    a = torch.randn(5, 2, 3)
    m = torch.ones(5, 2, 3)
    m[3:, 0] = 0
    a_masked = a.clone()
    a_masked[3:, 0] = 1e6  # garbage after the end must not leak in
    out = normalize_per_task(a_masked, m)
    for n in range(2):
        valid = out[:, n][m[:, n] > 0]
        assert abs(valid.mean().item()) < 1e-5
        assert abs(valid.std(unbiased=False).item() - 1) < 1e-3
    assert torch.all(out[3:, 0] == 0)


def test_baseline_fit_is_bit_identical_whatever_the_memory_layout():
    """MKL's default lstsq driver (gelsy) varies with alignment; same-seed runs diverged."""
    import random

    from metarl.baseline import fit_predict
    from tests.conftest import make_setup, rollout

    _, policy, sampler, tasks = make_setup(3, 5, (8,), horizon=20)
    episodes = rollout(sampler, {k: v.detach() for k, v in policy.params().items()}, tasks)
    reference, _ = fit_predict(episodes, 0.99)
    rng = random.Random(0)
    for _ in range(30):
        _junk = [torch.empty(rng.randint(1, 5000)) for _ in range(rng.randint(1, 5))]
        values, _ = fit_predict(episodes, 0.99)
        assert torch.equal(values, reference)


def test_baseline_fits_observations_that_never_change():
    """A constant observation (Meta-World's zero padding, a hidden goal) is collinear with the
    constant feature: in float32 the ridge term vanished at T = 500 and the solve failed."""
    from metarl.baseline import fit_predict
    from metarl.episodes import Episodes

    g = torch.Generator().manual_seed(0)
    obs = torch.randn(500, 8, 4, 5, generator=g)  # T, N, E, obs_dim
    obs[..., 1], obs[..., 2], obs[..., 3] = 0.3, 0.0, obs[..., 0]
    rewards = torch.randn(500, 8, 4, generator=g)
    episodes = Episodes(obs, torch.zeros(500, 8, 4, 1), rewards, torch.ones(500, 8, 4))
    values, weights = fit_predict(episodes, 0.99)
    assert values.dtype == weights.dtype == torch.float32
    assert values.isfinite().all() and weights.isfinite().all()
