"""Sampler throughput (env steps/s) against raw single-process Gymnasium stepping x workers.

    python benchmarks/sampler_throughput.py --env cheetah-vel --workers 1 2 0
    python benchmarks/sampler_throughput.py --env cheetah-vel --workers 2 --no-block-step
    python benchmarks/sampler_throughput.py --env cheetah-vel --async-envs 2 16
    python benchmarks/sampler_throughput.py --env cheetah-vel --backend ray --actors 1 2 4

For each worker count (0 = one per CPU) it builds the sampler train.py builds, at the paper's
batch (40 tasks x 20 episodes x the family's horizon, a policy with two hidden layers of 100),
and times `--repeats` full rollouts after one warm-up rollout. The reference is one env stepped
in a plain loop in this process with pre-drawn random actions (no policy, no transfer), best of
three: the sampler's steps/s divided by (raw steps/s x workers) is the parallel efficiency. A
second reference steps the sampler's own batch (all its sub-envs) with one EnvBlock in this
process, as a worker steps its share: it costs what hundreds of envs cost in caches, and it uses
the family's block stepper (envs/mujoco/block_step.py) as the sampler does, so the ratio to it is
the sampler's own overhead (policy, transfers, processes); the same batch through each env's
step is printed next to it. `--no-block-step` turns the block steppers off everywhere. A third
runs one plain loop per worker in as many processes at once, right after the sampler: on a
shared VM the cores together give less than workers x one core, and this says how much less at
that moment.
`--no-batch-reference` skips the second reference (it steps the whole batch twice, in one process,
with and without the block stepper). With `--json`, the file is written again after every row, so
a run stopped part way keeps the rows it finished.
With `--async-envs`, gymnasium's AsyncVectorEnv (one process per sub-env, shared memory) is
timed too, for comparison. With `--backend ray`, the Ray sampler with each of `--actors` actors
is timed against the local sampler with as many workers (their ratio is Ray's cost), as is the
round trip of one step (one sub-env per worker, so that the step is mostly messaging). Run it on an
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from metarl.policy import GaussianMLPPolicy
from metarl.sampler import Sampler
from metarl.tasks import TaskFamily, make_family
from metarl.vec.block import OUT_COLUMNS, EnvBlock
from metarl.vec.parallel import default_num_workers


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


def parallel_raw_steps_per_s(family_name: str, workers: int, steps: int) -> float:
    """`workers` processes, each stepping one env in a plain loop at the same time: what the
    machine's cores give together right now (on a shared VM, less than workers x one core)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        rates = pool.starmap(
            _raw_in_process, [(family_name, steps, seed) for seed in range(workers)]
        )
    return sum(rates)


def _raw_in_process(family_name: str, steps: int, seed: int) -> float:
    return raw_steps_per_s(make_family(family_name), steps, seed)


def raw_batch_steps_per_s(
    family: TaskFamily, num_envs: int, seed: int = 0, block_step: bool = True
) -> float:
    """The sampler's own sub-envs (num_envs of them, one episode each) stepped by one EnvBlock in
    this process, as a worker steps its share, with pre-drawn random actions: the batch's raw cost
    on one core, cache misses of hundreds of envs included, without policy, transfers or
    processes. With `block_step`, through the family's block stepper if it has one (the
    sampler's default); without, through each env's step."""
    block = EnvBlock(family.make_env, 0, num_envs)
    if not block_step:
        block.stepper = None  # each env's own step, as with METARL_BLOCK_STEP=0
    rng = np.random.default_rng(seed)
    block.set_tasks(family.sample_tasks(num_envs, rng))
    out = np.zeros((num_envs, block.spaces.obs_dim + OUT_COLUMNS), dtype=np.float32)
    block.reset(seed, out)
    low, high = block.spaces.low, block.spaces.high
    steps, elapsed = 0, 0.0
    for _ in range(family.horizon):
        actions = rng.uniform(low, high, size=(num_envs, block.spaces.act_dim)).astype(np.float32)
        active = num_envs - int(block.done.sum())
        start = time.perf_counter()
        block.step(actions, out)
        elapsed += time.perf_counter() - start
        steps += active
    block.close()
    return steps / elapsed


def sampler_steps_per_s(
    family: TaskFamily,
    workers: int,
    tasks: int,
    episodes: int,
    repeats: int,
    backend: str = "local",
    address: str | None = None,
) -> dict:
    env = family.prototype
    obs_dim = int(np.prod(env.observation_space.shape))
    act_dim = int(np.prod(env.action_space.shape))
    policy = GaussianMLPPolicy(obs_dim, act_dim, (100, 100))
    start = time.perf_counter()
    cpu = torch.device("cpu")
    sampler = Sampler(family, policy, tasks, episodes, cpu, 0, workers, backend, address)
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


def step_ms(
    family: TaskFamily, workers: int, steps: int, backend: str, address: str | None = None
) -> float:
    """Milliseconds per step of a batched env with one sub-env per worker (resets included, every
    horizon steps): one env step plus a round trip to the workers."""
    env = family.batched_env(workers, torch.device("cpu"), 0, workers, None, backend, address)
    env.set_tasks(family.sample_tasks(workers, np.random.default_rng(0)))
    actions = torch.zeros(workers, env.act_dim)
    try:
        elapsed = 0.0
        for i in range(steps + family.horizon):
            if i % family.horizon == 0:
                env.reset()
            start = time.perf_counter()
            env.step(actions)
            if i >= family.horizon:  # the first episode warms up
                elapsed += time.perf_counter() - start
    finally:
        env.close()
    return elapsed / steps * 1e3


def compare_backends(family: TaskFamily, raw: float, args: argparse.Namespace) -> list[dict]:
    """The Ray sampler with n actors against the local sampler with n workers, n in --actors."""
    rows = [{"workers": n} for n in args.actors]
    raw_ms = 1e3 / raw
    # Every local measurement first: once Ray has started, its own processes (raylet, GCS) share
    # the cores for the rest of this process, which would slow the local sampler too.
    for backend in ("local", "ray"):
        for row in rows:
            n = row["workers"]
            result = sampler_steps_per_s(
                family, n, args.tasks, args.episodes, args.repeats, backend, args.ray_address
            )
            ms = step_ms(family, n, args.round_trip_steps, backend, args.ray_address)
            result.update(step_ms=ms, round_trip_ms=ms - raw_ms)
            row[backend] = result
    for row in rows:
        n = row["workers"]
        row["ratio"] = row["ray"]["steps_per_s"] / row["local"]["steps_per_s"]
        local, ray_ = row["local"], row["ray"]
        print(
            f"{n} worker(s): local {local['steps_per_s']:,.0f} steps/s, ray "
            f"{ray_['steps_per_s']:,.0f} steps/s = {row['ratio']:.0%} of local; round trip per "
            f"step (one sub-env per worker, minus one raw step): local "
            f"{local['round_trip_ms']:.2f} ms, ray {ray_['round_trip_ms']:.2f} ms (startup "
            f"local {local['startup_s']:.1f} s, ray {ray_['startup_s']:.1f} s)",
            flush=True,
        )
    return rows


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
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="ray: compare the Ray sampler with --actors actors to the local one (not --workers)",
    )
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--ray-address", default=None, help="Ray cluster to join (default: local)")
    parser.add_argument("--round-trip-steps", type=int, default=1000)
    parser.add_argument("--json", default=None, help="also write the result to this file")
    parser.add_argument(
        "--no-batch-reference",
        action="store_true",
        help="skip the raw batch reference (the whole batch stepped in one process)",
    )
    parser.add_argument(
        "--no-block-step",
        action="store_true",
        help="step every sub-env through its own env.step (METARL_BLOCK_STEP=0), in the sampler "
        "and in the batch reference",
    )
    args = parser.parse_args()
    if args.no_block_step:
        os.environ["METARL_BLOCK_STEP"] = "0"  # spawned workers inherit it
    family = make_family(args.env)
    result = {
        "env": args.env,
        "batch": [args.tasks, args.episodes, family.horizon],
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "block_step": not args.no_block_step,
        "sampler": [],
        "ray_vs_local": [],
        "async_vector_env": [],
    }

    def save() -> None:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)

    # The best of three: the reference is what one process can do at its fastest.
    raws = [raw_steps_per_s(family, args.raw_steps, seed) for seed in range(3)]
    raw = max(raws)
    result.update(raw_steps_per_s=raw, raw_steps_per_s_all=raws)
    save()
    print(f"raw single-process stepping: {raw:,.0f} steps/s (best of {raws})", flush=True)
    batch = args.tasks * args.episodes
    block_step = not args.no_block_step
    raw_batch = raw_batch_env_step = None
    if not args.no_batch_reference:
        raw_batch = max(raw_batch_steps_per_s(family, batch, seed, block_step) for seed in range(2))
        raw_batch_env_step = raw_batch
        if block_step:  # and what each env's own step gives, for comparison
            raw_batch_env_step = max(
                raw_batch_steps_per_s(family, batch, seed, False) for seed in range(2)
            )
        print(
            f"raw single-process stepping of the batch ({batch} sub-envs by one EnvBlock): "
            f"{raw_batch:,.0f} steps/s ({'block stepper' if block_step else 'env.step'}); "
            f"through env.step: {raw_batch_env_step:,.0f} steps/s (best of two each)",
            flush=True,
        )
    result.update(
        raw_batch_steps_per_s=raw_batch, raw_batch_env_step_steps_per_s=raw_batch_env_step
    )
    save()
    if args.backend == "ray":
        result["ray_vs_local"] = compare_backends(family, raw, args)
        save()
    else:
        for workers in args.workers:
            n = workers or default_num_workers()
            row = sampler_steps_per_s(family, n, args.tasks, args.episodes, args.repeats)
            # Measured right after the sampler, so that both see the machine in the same state.
            together = parallel_raw_steps_per_s(args.env, n, args.raw_steps)
            row.update(
                workers=n,
                efficiency=row["steps_per_s"] / (raw * n),
                efficiency_vs_batch=row["steps_per_s"] / (raw_batch * n) if raw_batch else None,
                raw_together_steps_per_s=together,
                efficiency_vs_together=row["steps_per_s"] / together,
            )
            result["sampler"].append(row)
            save()
            vs_batch = f"{row['efficiency_vs_batch']:.0%} of raw batch x {n}, " if raw_batch else ""
            print(
                f"sampler, {n} worker(s): {row['steps_per_s']:,.0f} steps/s = "
                f"{row['efficiency']:.0%} of raw x {n}, {vs_batch}"
                f"{row['efficiency_vs_together']:.0%} of {n} raw loops run together "
                f"({together:,.0f} steps/s; startup {row['startup_s']:.1f} s)",
                flush=True,
            )
    for num_envs in args.async_envs:
        rate = async_vector_steps_per_s(family, num_envs, args.raw_steps // num_envs)
        result["async_vector_env"].append({"num_envs": num_envs, "steps_per_s": rate})
        save()
        print(f"gymnasium AsyncVectorEnv, {num_envs} sub-envs: {rate:,.0f} steps/s", flush=True)


if __name__ == "__main__":
    main()
