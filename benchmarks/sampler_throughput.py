"""Sampler throughput (env steps/s) against raw single-process Gymnasium stepping x workers.

    python benchmarks/sampler_throughput.py --env cheetah-vel --workers 1 2 0
    python benchmarks/sampler_throughput.py --env cheetah-vel --async-envs 2 16

For each worker count (0 = one per CPU) it builds the sampler train.py builds, at the paper's
batch (40 tasks x 20 episodes x the family's horizon, a policy with two hidden layers of 100),
and times `--repeats` full rollouts after one warm-up rollout. The reference is one env stepped
in a plain loop in this process with pre-drawn random actions (no policy, no transfer), best of
three: the sampler's steps/s divided by (raw steps/s x workers) is the parallel efficiency.
With `--async-envs`, gymnasium's AsyncVectorEnv (one process per sub-env, shared memory) is
timed too, for comparison. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from metarl.parallel import default_num_workers
from metarl.policy import GaussianMLPPolicy
from metarl.sampler import Sampler
from metarl.tasks import TaskFamily, make_family


def raw_steps_per_s(family: TaskFamily, steps: int, seed: int = 0) -> float:
    """One env, stepped in a loop with random actions; reset at the horizon or termination."""
    env = family.make_env()
    env.unwrapped.set_task(family.sample_tasks(1, np.random.default_rng(seed))[0])
    actions = (
        np.random.default_rng(seed)
        .uniform(env.action_space.low, env.action_space.high, size=(steps, *env.action_space.shape))
        .astype(np.float32)
    )
    env.reset(seed=seed)
    t, start = 0, time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        t += 1
        if terminated or truncated or t == family.horizon:
            env.reset()
            t = 0
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def sampler_steps_per_s(
    family: TaskFamily, workers: int, tasks: int, episodes: int, repeats: int
) -> dict:
    env = family.prototype
    obs_dim = int(np.prod(env.observation_space.shape))
    act_dim = int(np.prod(env.action_space.shape))
    policy = GaussianMLPPolicy(obs_dim, act_dim, (100, 100))
    start = time.perf_counter()
    sampler = Sampler(family, policy, tasks, episodes, torch.device("cpu"), 0, workers)
    startup = time.perf_counter() - start
    rng = np.random.default_rng(0)
    rates = []
    try:
        for i in range(repeats + 1):
            batch = family.sample_tasks(tasks, rng)
            start = time.perf_counter()
            episodes_ = sampler.sample(policy.params(), batch)
            elapsed = time.perf_counter() - start
            if i > 0:  # the first rollout warms caches and the allocator
                rates.append(float(episodes_.mask.sum()) / elapsed)
    finally:
        sampler.close()
    return {"steps_per_s": statistics.median(rates), "all": rates, "startup_s": startup}


def async_vector_steps_per_s(family: TaskFamily, num_envs: int, steps: int) -> float:
    envs = gym.vector.AsyncVectorEnv([family.make_env] * num_envs, shared_memory=True)
    envs.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(steps, *envs.action_space.shape))
    start = time.perf_counter()
    for action in actions:  # sub-envs auto-reset; time-limit truncation is not applied here
        envs.step(action.astype(np.float32))
    elapsed = time.perf_counter() - start
    envs.close()
    return num_envs * steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="cheetah-vel")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--raw-steps", type=int, default=20000)
    parser.add_argument("--async-envs", type=int, nargs="*", default=[])
    parser.add_argument("--json", default=None, help="also write the result to this file")
    args = parser.parse_args()
    family = make_family(args.env)
    # The best of three: the reference is what one process can do at its fastest.
    raws = [raw_steps_per_s(family, args.raw_steps, seed) for seed in range(3)]
    raw = max(raws)
    print(f"raw single-process stepping: {raw:,.0f} steps/s (best of {raws})", flush=True)
    rows = []
    for workers in args.workers:
        n = workers or default_num_workers()
        result = sampler_steps_per_s(family, n, args.tasks, args.episodes, args.repeats)
        result.update(workers=n, efficiency=result["steps_per_s"] / (raw * n))
        rows.append(result)
        print(
            f"sampler, {n} worker(s): {result['steps_per_s']:,.0f} steps/s = "
            f"{result['efficiency']:.0%} of raw x {n} (startup {result['startup_s']:.1f} s)",
            flush=True,
        )
    async_rows = []
    for num_envs in args.async_envs:
        rate = async_vector_steps_per_s(family, num_envs, args.raw_steps // num_envs)
        async_rows.append({"num_envs": num_envs, "steps_per_s": rate})
        print(f"gymnasium AsyncVectorEnv, {num_envs} sub-envs: {rate:,.0f} steps/s", flush=True)
    result = {
        "env": args.env,
        "batch": [args.tasks, args.episodes, family.horizon],
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "raw_steps_per_s": raw,
        "raw_steps_per_s_all": raws,
        "sampler": rows,
        "async_vector_env": async_rows,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
