"""The Ray sampler backend: the same episodes as the local parallel sampler, and clean faults.

One local Ray instance (2 CPUs) serves the module; the envs are tiny so that the file runs in about
half a minute. The config and CLI checks run without Ray.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from broken_families import ValidFamily
from faulty_envs import FAIL_AT, FaultyFamily

from metarl import cli
from metarl.config import build_config
from metarl.errors import ConfigError, WorkerError
from metarl.policy import GaussianMLPPolicy
from metarl.sampler import Sampler, SamplerRetryWarning
from metarl.tasks import TaskFamily, make_family

CPU = torch.device("cpu")
FIELDS = ("observations", "actions", "rewards", "mask")


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    # "local": a new instance even if a cluster started with `ray start` runs on this machine.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _family(make_env=ValidFamily, horizon=12):
    return TaskFamily(name="t", make_env=make_env, horizon=horizon)


def _sampler(family, policy, backend, num_tasks=3, episodes=4, seed=7, **kwargs):
    torch.manual_seed(0)
    return Sampler(family, policy, num_tasks, episodes, CPU, seed, 2, backend, **kwargs)


def _phases(sampler, tasks, phases=2):
    try:
        # Several phases: the reset counter (and so every sub-env's seed) advances identically.
        return [sampler.sample(sampler.policy.params(), tasks) for _ in range(phases)]
    finally:
        sampler.close()


def _assert_equal(runs_a, runs_b):
    for a, b in zip(runs_a, runs_b, strict=True):
        for name in FIELDS:
            assert torch.equal(getattr(a, name), getattr(b, name)), name


def _gone(pid, within=10.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("spec", "policy", "num_tasks", "episodes"),
    [
        (None, GaussianMLPPolicy(2, 2, (8,)), 3, 4),  # ValidFamily: seeded random starts
        (None, GaussianMLPPolicy(2, 2, (8,)).double(), 3, 4),  # actions cross as float32
        ("cheetah-vel", GaussianMLPPolicy(17, 6, (16,)), 2, 3),
    ],
    ids=["random-starts", "float64-policy", "cheetah-vel"],
)
def test_ray_equals_the_local_parallel_sampler(ray_instance, spec, policy, num_tasks, episodes):
    family = _family() if spec is None else make_family(spec, horizon=20)
    tasks = family.sample_tasks(num_tasks, np.random.default_rng(0))
    runs = {}
    for backend in ("local", "ray"):
        sampler = _sampler(family, policy, backend, num_tasks, episodes)
        if backend == "ray":
            env = sampler.env
            assert type(env).__name__ == "RayBatchedEnv" and env.num_workers == 2
            for pid in env._pids:  # actors are light: envblock, no torch
                maps = Path(f"/proc/{pid}/maps")
                assert not maps.exists() or "libtorch" not in maps.read_text()
        runs[backend] = _phases(sampler, tasks)
    _assert_equal(runs["local"], runs["ray"])
    assert not torch.equal(runs["ray"][0].observations, runs["ray"][1].observations)


def _tasks(n, bad=None, how="raise"):
    tasks = [{"goal": np.array([0.5, 0.5]), "fail": None} for _ in range(n)]
    if bad is not None:
        tasks[bad] = {"goal": np.array([0.5, 0.5]), "fail": how}
    return tasks


def test_a_raising_sub_env_is_named_with_its_task(ray_instance):
    from metarl.vec.ray_env import RayBatchedEnv

    env = RayBatchedEnv(FaultyFamily, 6, CPU, num_workers=2)
    env.set_tasks(_tasks(6, bad=4))
    env.reset()
    with pytest.raises(WorkerError) as caught:
        for _ in range(FAIL_AT):
            env.step(torch.zeros(6, 2))
    message = str(caught.value)
    assert "Sampler actor 1 failed while stepping its sub-envs" in message
    assert "Sub-env 4 (FaultyFamily, task" in message and "'fail': 'raise'" in message
    assert "ValueError in step(): simulated failure in step" in message
    assert "shut down; no episode of this batch was used" in message
    assert all(_gone(pid) for pid in env._pids)
    with pytest.raises(WorkerError, match="shut down"):
        env.step(torch.zeros(6, 2))  # no silent use of a half-dead sampler


@pytest.mark.parametrize("how", ["ray.kill", "SIGKILL"])
def test_a_lost_actor_is_replaced_and_the_phase_sampled_again(ray_instance, how):
    family = _family()
    policy = GaussianMLPPolicy(2, 2, (8,))
    tasks = family.sample_tasks(3, np.random.default_rng(0))
    undisturbed = _phases(_sampler(family, policy, "ray"), tasks)

    sampler = _sampler(family, policy, "ray")
    env = sampler.env
    pid, step_wait, calls = env._pids[1], env.step_wait, []

    def kill_once(group):  # actor 1 dies while it steps, in the middle of the first phase
        calls.append(group)
        if len(calls) == 5:
            if how == "ray.kill":
                ray_instance.kill(env._actors[1])
            else:
                os.kill(pid, signal.SIGKILL)
        return step_wait(group)

    env.step_wait = kill_once
    with pytest.warns(SamplerRetryWarning) as caught:
        disturbed = _phases(sampler, tasks)
    assert len(caught) == 1
    assert str(caught[0].message).startswith("Sampler actor 1 (sub-envs 4..7, 10..11) was lost")
    assert "retry 1 of 2" in str(caught[0].message)
    assert env._pids[1] != pid and _gone(pid)
    _assert_equal(undisturbed, disturbed)  # the retried phase is the undisturbed one


def test_exhausted_retries_stop_with_a_clear_error(ray_instance):
    family = _family(FaultyFamily, horizon=10)
    # One episode per task: only sub-env 3, of actor 1, runs the task that dies.
    sampler = _sampler(family, GaussianMLPPolicy(2, 2, (8,)), "ray", 4, 1, max_retries=1)
    tasks = _tasks(4, bad=3, how="die")
    try:
        with (
            pytest.warns(SamplerRetryWarning, match="retry 1 of 1"),
            pytest.raises(WorkerError) as caught,
        ):
            sampler.sample(sampler.policy.params(), tasks)  # dies at the same step every time
    finally:
        sampler.close()
    message = str(caught.value)
    assert message.startswith("Sampler actor 1 (sub-envs 1..1, 3..3) was lost while stepping")
    assert "lost a sampler actor in each of its 2 attempts (sampler.max_retries=1)" in message


def test_an_env_factory_failing_in_the_actor_fails_at_start(ray_instance):
    from metarl.vec.ray_env import RayBatchedEnv

    driver = os.getpid()

    def make_env():  # defined here: cloudpickle ships it by value
        if os.getpid() != driver:
            raise OSError("no display in the actor")
        return ValidFamily()

    with pytest.raises(WorkerError) as caught:
        RayBatchedEnv(make_env, 2, CPU, num_workers=1)
    message = str(caught.value)
    assert "Sampler actor 0 failed while starting its sub-envs: OSError: no display" in message
    assert "--import MODULE" in message and "All sampler actors were shut down" in message


def test_close_kills_the_actors_and_leaves_ray_up(ray_instance):
    from metarl.vec.ray_env import RayBatchedEnv

    env = RayBatchedEnv(ValidFamily, 4, CPU, num_workers=2)
    env.close()
    assert all(_gone(pid) for pid in env._pids)
    assert ray_instance.is_initialized()  # the user's Ray instance is the user's to shut down


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["sampler.backend=rey"], "Unknown sampler.backend 'rey'. Did you mean 'ray'?"),
        (["sampler.ray_address=auto"], "'sampler.backend' is 'local'. Add --sampler ray"),
        (["sampler.backend=ray", "sampler.num_workers=0"], "the ray backend cannot do"),
        (["sampler.max_retries=-1"], "'sampler.max_retries' must be >= 0"),
    ],
)
def test_bad_backend_settings_are_rejected(overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        build_config(overrides=overrides)


def test_the_ray_backend_without_ray_says_how_to_install_it(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a)
    )
    with pytest.raises(ConfigError, match=r'pip install "metarl\[ray\]"'):
        build_config(overrides=["sampler.backend=ray"])


def test_cli_flags_set_the_backend(monkeypatch):
    if importlib.util.find_spec("ray") is None:
        pytest.skip("validating backend ray needs Ray installed")
    seen = []
    monkeypatch.setattr("metarl.trainer.train", seen.append)
    monkeypatch.setattr(sys, "argv", ["train.py"])
    assert cli.main(["--sampler", "ray", "--ray-address", "10:30", "--iterations", "1"]) == 0
    assert seen[0].sampler.backend == "ray"
    assert seen[0].sampler.ray_address == "10:30"  # a string, not YAML's sexagesimal 630


def test_resume_refuses_a_backend_flag(capsys):
    assert cli.main(["--resume", "runs/x", "--sampler", "ray"]) == 2
    assert "--sampler cannot be combined with it" in capsys.readouterr().err
