"""The parallel sampler: the same episodes as the in-process one, and clean failures.

Workers are real processes (spawn); each test uses tiny envs so that the file runs in seconds.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from broken_families import DiscreteFamily, ValidFamily
from faulty_envs import FAIL_AT, FaultyFamily

from metarl.envs.point_goal import PointGoalEnv
from metarl.errors import WorkerError
from metarl.policy import CategoricalMLPPolicy, GaussianMLPPolicy
from metarl.sampler import Sampler
from metarl.tasks import TaskFamily, make_family
from metarl.vec.parallel import ParallelBatchedEnv

CPU = torch.device("cpu")
TESTS = Path(__file__).resolve().parent


def _episodes(make_env, num_workers, policy, horizon=12, seed=7, phases=2):
    family = TaskFamily(name="t", make_env=make_env, horizon=horizon)
    torch.manual_seed(0)
    sampler = Sampler(family, policy, 3, 4, CPU, seed=seed, num_workers=num_workers)
    tasks = family.sample_tasks(3, np.random.default_rng(seed))
    try:
        # Several phases: the reset counter (and so every sub-env's seed) advances identically.
        return [sampler.sample(policy.params(), tasks) for _ in range(phases)]
    finally:
        sampler.close()


@pytest.mark.parametrize("num_workers", [1, 3])
@pytest.mark.parametrize(
    ("make_env", "policy"),
    [
        (PointGoalEnv, GaussianMLPPolicy(2, 2, (8,), init_log_std=-1.0)),
        (ValidFamily, GaussianMLPPolicy(2, 2, (8,))),  # seeded random starts
        (DiscreteFamily, CategoricalMLPPolicy(2, 4, (8,))),
    ],
    ids=["point-goal-gym", "random-starts", "discrete"],
)
def test_parallel_equals_in_process(make_env, policy, num_workers):
    serial = _episodes(make_env, 0, policy)
    parallel = _episodes(make_env, num_workers, policy)
    for a, b in zip(serial, parallel):
        for name in ("observations", "actions", "rewards", "mask"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(serial[0].observations, serial[1].observations)  # new seeds per reset


def test_parallel_equals_in_process_on_cheetah_vel():
    family = make_family("cheetah-vel", horizon=20)
    policy = GaussianMLPPolicy(17, 6, (16,))
    runs = _in_process_and_two_workers(family, policy, CPU)
    for name in ("observations", "actions", "rewards", "mask"):
        assert torch.equal(getattr(runs[0], name), getattr(runs[1], name)), name


def _in_process_and_two_workers(family, policy, device) -> list:
    """The same 2 tasks x 3 episodes sampled in-process, then by 2 worker processes."""
    runs = []
    for num_workers in (0, 2):
        sampler = Sampler(family, policy, 2, 3, device, seed=3, num_workers=num_workers)
        tasks = family.sample_tasks(2, np.random.default_rng(0))
        try:
            runs.append(sampler.sample(policy.params(), tasks))
        finally:
            sampler.close()
    return runs


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_parallel_sampler_feeds_a_gpu_policy():
    # Results cross through the page-locked staging buffer; the episodes live on the GPU and
    # equal those of the in-process env stepping for the same GPU policy.
    family = make_family("cheetah-vel", horizon=10)
    policy = GaussianMLPPolicy(17, 6, (16,)).cuda()
    runs = _in_process_and_two_workers(family, policy, torch.device("cuda"))
    for name in ("observations", "actions", "rewards", "mask"):
        assert getattr(runs[1], name).device.type == "cuda"
        assert torch.equal(getattr(runs[0], name), getattr(runs[1], name)), name


def test_workers_split_the_sub_envs_evenly():
    env = ParallelBatchedEnv(ValidFamily, 14, CPU, num_workers=3, groups=[(0, 7), (7, 14)])
    try:
        # Each worker holds a share of each step group: both groups use every core.
        assert env.chunks == [[(0, 2), (7, 9)], [(2, 5), (9, 12)], [(5, 7), (12, 14)]]
        assert env.num_workers == 3
        assert all(p.is_alive() for p in env._procs)
    finally:
        env.close()
    assert not any(p.is_alive() for p in env._procs)


def _tasks(n, bad=None, how="raise"):
    tasks = [{"goal": np.array([0.5, 0.5]), "fail": None} for _ in range(n)]
    if bad is not None:
        tasks[bad] = {"goal": np.array([0.5, 0.5]), "fail": how}
    return tasks


def _run_until_failure(env, tasks):
    env.set_tasks(tasks)
    env.reset()
    for _ in range(FAIL_AT + 1):
        env.step(torch.zeros(env.num_envs, 2))


def test_a_raising_sub_env_is_named_with_its_task():
    env = ParallelBatchedEnv(FaultyFamily, 6, CPU, num_workers=2)
    with pytest.raises(WorkerError) as caught:
        _run_until_failure(env, _tasks(6, bad=4))
    message = str(caught.value)
    assert "Sub-env 4 (FaultyFamily, task" in message
    assert "'fail': 'raise'" in message
    assert "ValueError in step(): simulated failure in step" in message
    assert "Sampler worker 1" in message and "shut down" in message
    assert not any(p.is_alive() for p in env._procs)


def test_a_dying_worker_is_reported_within_seconds():
    env = ParallelBatchedEnv(FaultyFamily, 6, CPU, num_workers=2)
    start = time.monotonic()
    with pytest.raises(WorkerError) as caught:
        _run_until_failure(env, _tasks(6, bad=1, how="die"))
    assert time.monotonic() - start < 5
    message = str(caught.value)
    assert "Sampler worker 0 (sub-envs 0..2) died in sub-env 1" in message
    assert "'fail': 'die'" in message and "killed by SIGKILL" in message
    assert not any(p.is_alive() for p in env._procs)


def test_a_worker_killed_from_outside_is_reported():
    env = ParallelBatchedEnv(ValidFamily, 4, CPU, num_workers=2)
    env.set_tasks(_tasks(4))
    env.reset()
    os.kill(env._procs[1].pid, signal.SIGKILL)
    with pytest.raises(WorkerError, match=r"Sampler worker 1 \(sub-envs 2..3\) died"):
        env.step(torch.zeros(4, 2))
    assert not any(p.is_alive() for p in env._procs)
    with pytest.raises(WorkerError, match="shut down"):
        env.step(torch.zeros(4, 2))  # no silent use of a half-dead sampler


def test_a_broken_constructor_fails_at_start():
    with pytest.raises(WorkerError, match="worker 0 failed while starting"):
        ParallelBatchedEnv(_constructor_fails_in_worker, 2, CPU, num_workers=1)
    assert mp.active_children() == []


def _constructor_fails_in_worker():
    if mp.parent_process() is not None:
        raise OSError("no display in the worker")
    return ValidFamily()


_INTERRUPTED_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    sys.path.insert(0, {tests!r})
    from faulty_envs import FaultyFamily
    from metarl.vec.parallel import ParallelBatchedEnv
    import numpy as np

    env = ParallelBatchedEnv(FaultyFamily, 4, torch.device("cpu"), num_workers=2)
    print(" ".join(str(p.pid) for p in env._procs), flush=True)
    env.set_tasks([{{"goal": np.zeros(2), "fail": "slow"}}] * 4)
    env.reset()
    while True:  # no close(): the exit path must clean up
        env.step(torch.zeros(4, 2))
    """
)


def test_ctrl_c_during_sampling_leaves_no_process_behind():
    # Ctrl-C in a terminal reaches the whole process group: the script and its workers.
    proc = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_SCRIPT.format(tests=str(TESTS))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell's background job ignores SIGINT, and children inherit that: restore it, or the
        # Ctrl-C this test sends never arrives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    time.sleep(0.5)  # well inside the stepping loop
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone (and reaped: no zombie)


def _sampler_workers() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "spawn_main"], capture_output=True, text=True)
    return {int(pid) for pid in out.stdout.split()}


def test_a_killed_worker_stops_training_with_a_clear_error(tmp_path):
    before = _sampler_workers()
    root = TESTS.parent
    # 4 tasks x 1 episode, 2 workers: worker 1 holds sub-envs 1 and 3; only sub-env 1 (task 1)
    # dies, so the message is deterministic.
    cmd = [sys.executable, str(root / "train.py"), "--env", "tests.faulty_envs:DyingFamily"]
    cmd += [
        "--iterations",
        "3",
        "--set",
        "sampler.meta_batch_size=4",
        "sampler.episodes_per_task=1",
    ]
    cmd += ["sampler.num_workers=2", "eval.at_end=false", f"log.root={tmp_path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=root)
    assert out.returncode == 2, out.stderr
    assert "error: Iteration 1: Sampler worker 1 (sub-envs 1..1, 3..3) died in sub-env 1" in (
        out.stderr
    )
    assert "killed by SIGKILL" in out.stderr and "no checkpoint had been saved yet" in out.stderr
    assert not _sampler_workers() - before  # none of this run's workers is left
