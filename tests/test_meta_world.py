"""Meta-World built in (envs/meta_world.py): the ml1/<task> and ml10 families with the benchmark's
own train / test split, and the success rate logged next to the return. The Meta-World tests need
pip install "metarl[metaworld]"; the success-rate tests run on a small env of their own."""

from __future__ import annotations

import json
import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch

from metarl.check_env import check_family
from metarl.cli import CONFIGS_DIR
from metarl.config import build_config
from metarl.errors import ConfigError
from metarl.policy import GaussianMLPPolicy
from metarl.sampler import Sampler
from metarl.tasks import TaskFamily, make_family
from metarl.trainer import train
from tests.test_resume import scalars


def needs_metaworld():
    return pytest.importorskip("metaworld", reason='needs pip install "metarl[metaworld]"')


def goals(tasks) -> set[bytes]:
    return {pickle.dumps(pickle.loads(t.data)["rand_vec"].tolist()) for t in tasks}


# --- success rates, on an env of our own ---------------------------------------------------------


class ReachLine(gym.Env):
    """1D point; task: a goal; info["success"] once the point is within 0.05 of it."""

    metadata = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.goal, self.x = 0.0, 0.0

    def sample_tasks(self, n, rng):
        return list(rng.uniform(-1, 1, size=n))

    def set_task(self, task):
        self.goal = float(task)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = 0.0
        return np.array([self.x], dtype=np.float32), {}

    def step(self, action):
        self.x += 0.1 * float(action[0])
        success = abs(self.x - self.goal) < 0.05
        return (
            np.array([self.x], np.float32),
            -abs(self.x - self.goal),
            False,
            False,
            {"success": success},
        )


def sample_reach_line(horizon: int, goals: list[float]):
    """Episodes of ReachLine whose every action is +1 (a policy with mean 1 and std e^-20)."""
    family = TaskFamily(name="reach-line", make_env=ReachLine, horizon=horizon)
    policy = GaussianMLPPolicy(1, 1, (4,), init_log_std=-20.0)
    params = {k: torch.zeros_like(v) for k, v in policy.params().items()}
    params["log_std"] = torch.full((1,), -20.0)
    params["layers.1.bias"] = torch.ones(1)
    sampler = Sampler(family, policy, len(goals), 2, torch.device("cpu"), num_workers=0)
    try:
        return sampler.sample(params, goals)
    finally:
        sampler.close()


def test_an_episode_succeeds_if_any_step_reports_success():
    # x after step t is 0.1 t: goal 0.3 is reached at t = 3, 2.0 never, 1.2 at t = 12 only.
    assert sample_reach_line(12, [0.3, 2.0, 1.2]).successes.tolist() == [
        [1.0, 1.0],
        [0.0, 0.0],
        [1.0, 1.0],
    ]
    assert sample_reach_line(11, [1.2]).successes.tolist() == [[0.0, 0.0]]


def test_families_without_success_report_none():
    for spec in ("point-goal", "tests.broken_families:ValidFamily"):
        family = make_family(spec, horizon=5)
        policy = GaussianMLPPolicy(2, 2, (4,))
        sampler = Sampler(family, policy, 2, 2, torch.device("cpu"), num_workers=0)
        tasks = family.sample_tasks(2, np.random.default_rng(0))
        assert sampler.sample(policy.params(), tasks).successes is None
        sampler.close()


# --- Meta-World ----------------------------------------------------------------------------------


def test_ml1_family_uses_the_benchmarks_train_and_test_goals():
    needs_metaworld()
    from metarl.envs.meta_world import BENCHMARK_SEED, benchmark

    family = make_family("ml1/reach-v3")
    assert family.horizon == 500 and family.builtin
    bench = benchmark("ML1", "reach-v3")  # metaworld.ML1("reach-v3", seed=BENCHMARK_SEED)
    assert bench.train_tasks != bench.test_tasks and BENCHMARK_SEED == 0
    train_tasks = family.sample_tasks(20, np.random.default_rng(0))
    test_tasks = family.held_out_tasks(20, np.random.default_rng(0))
    assert goals(train_tasks) <= goals(bench.train_tasks) and len(goals(train_tasks)) == 20
    assert goals(test_tasks) <= goals(bench.test_tasks)
    assert not goals(train_tasks) & goals(test_tasks)
    again = family.sample_tasks(20, np.random.default_rng(0))
    assert [t.data for t in again] == [t.data for t in train_tasks]


def test_ml1_family_passes_the_checker():
    needs_metaworld()
    report = check_family(make_family("ml1/push-v3", horizon=20), raise_on_error=False)
    assert report.ok, report.text()


def test_unknown_meta_world_task_lists_the_valid_ones():
    needs_metaworld()
    with pytest.raises(ConfigError, match=r"Unknown Meta-World task 'reach-v9'.*reach-v3"):
        make_family("ml1/reach-v9")


def test_ml1_trains_and_evaluates_with_success_rates_on_held_out_goals(tmp_path):
    needs_metaworld()
    overrides = [
        "iterations=1",
        "env.horizon=20",
        "sampler.meta_batch_size=2",
        "sampler.episodes_per_task=2",
        "sampler.num_workers=0",
        "policy.hidden_sizes=[8]",
        "eval.num_tasks=2",
        "eval.episodes_per_task=2",
        f"log.root={tmp_path}",
    ]
    run_dir = train(build_config("maml", "ml1/reach-v3", None, overrides, CONFIGS_DIR))
    # The final evaluation writes its own event file, in eval/ (a re-run replaces it).
    tags = {**scalars(run_dir), **scalars(run_dir / "eval")}
    for tag in ("success/pre_adapt", "success/post_adapt", "success/held_out_k1"):
        assert 0.0 <= tags[tag][0][1] <= 1.0, tag
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    assert len(result["success_rate"]) == len(result["steps"]) == 2
    assert np.array(result["per_task_success_rate"]).shape == (2, 2)


@pytest.mark.slow  # builds ML10's 15 task classes x 50 goals: about a minute
def test_ml10_assigns_task_i_to_class_i_mod_10_and_holds_out_the_test_classes(tmp_path):
    needs_metaworld()
    from metarl.envs.meta_world import benchmark

    family = make_family("ml10")
    bench = benchmark("ML10")
    tasks = family.sample_tasks(20, np.random.default_rng(0))
    train_classes, test_classes = list(bench.train_classes), list(bench.test_classes)
    assert [t.env_name for t in tasks] == train_classes * 2
    held_out = family.held_out_tasks(10, np.random.default_rng(0))
    assert [t.env_name for t in held_out] == test_classes * 2
    report = check_family(family, raise_on_error=False)
    assert report.ok, report.text()
    # The batched sampler steps sub-envs of ten classes in training, five others in evaluation.
    overrides = [
        "iterations=1",
        "env.horizon=5",
        "sampler.meta_batch_size=10",
        "sampler.episodes_per_task=1",
        "sampler.num_workers=0",
        "policy.hidden_sizes=[8]",
        "eval.num_tasks=5",
        "eval.episodes_per_task=1",
        f"log.root={tmp_path}",
    ]
    run_dir = train(build_config("maml", "ml10", None, overrides, CONFIGS_DIR))
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    assert len(result["success_rate"]) == 2 and result["distinct_tasks"] == 5
