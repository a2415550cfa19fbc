"""Device placement and CPU/GPU agreement. The CUDA tests skip where no GPU is visible."""

import numpy as np
import pytest
import torch

from metarl.algos import ALGORITHMS
from metarl.algos.trpo import get_flat
from metarl.build import resolve_device
from metarl.config import Config
from metarl.policy import GaussianMLPPolicy
from metarl.sampler import Sampler
from metarl.tasks import make_family

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def small_config(algo: str) -> Config:
    cfg = Config()
    cfg.algo = algo
    cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task = 4, 5
    cfg.policy.hidden_sizes = [16, 16]
    if algo == "reptile":
        cfg.outer.optimizer, cfg.inner.steps = "adam", 2
    return cfg


def build(cfg: Config, device: torch.device, state=None):
    family = make_family("point-goal", horizon=30)
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(2, 2, cfg.policy.hidden_sizes).to(device)
    if state is not None:
        policy.load_state_dict(state)
    sampler = Sampler(
        family, policy, cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task, device, seed=0
    )
    return family, ALGORITHMS[cfg.algo](policy, sampler, cfg)


def test_auto_device_falls_back_to_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@cuda
@pytest.mark.parametrize("algo", ["maml", "meta-sgd", "reptile"])
def test_everything_the_loop_creates_lives_on_the_gpu(algo):
    device = torch.device("cuda")
    family, learner = build(small_config(algo), device)
    tasks = family.sample_tasks(4, np.random.default_rng(0))
    seen = []
    original = learner.update

    def spy(train, test, adapted):
        for batch in [*train, test]:
            seen.extend(
                [batch.observations, batch.actions, batch.rewards, batch.mask, batch.advantages]
            )
        seen.extend(adapted.values())
        return original(train, test, adapted)

    learner.update = spy
    metrics = learner.iterate(tasks)
    seen.extend(learner.meta_parameters())
    seen.extend(metrics.values())
    assert seen and all(t.device.type == "cuda" for t in seen)


@cuda
@pytest.mark.parametrize("algo", ["maml", "meta-sgd"])
def test_one_meta_update_agrees_between_cpu_and_gpu(algo):
    """Same episodes (sampled on the CPU), same update on both devices: same new parameters."""
    from metarl.adapt import adaptation_rollouts

    cfg = small_config(algo)
    family, cpu = build(cfg, torch.device("cpu"))
    tasks = family.sample_tasks(4, np.random.default_rng(0))
    batches, adapted = adaptation_rollouts(
        cpu.sampler, cpu.params, cpu.update_rule(), tasks, 1, cfg.inner
    )
    _, gpu = build(cfg, torch.device("cuda"), state=cpu.policy.state_dict())
    to_gpu = [
        type(b)(*(t.cuda() for t in (b.observations, b.actions, b.rewards, b.mask, b.advantages)))
        for b in batches
    ]
    cpu.update(batches[:-1], batches[-1], adapted)
    gpu.update(to_gpu[:-1], to_gpu[-1], {k: v.cuda() for k, v in adapted.items()})
    a = get_flat(cpu.meta_parameters())
    b = get_flat(gpu.meta_parameters()).cpu()
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-4)
