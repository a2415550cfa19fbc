"""Raw stepping rates of Gymnasium families: actions/s and simulated seconds per wall second.

    python benchmarks/env_step_rates.py
    python benchmarks/env_step_rates.py --envs cheetah-vel cheetah-vel-rllab --rounds 5

For each family, one process, no policy and no sampler:

- `env.step`: one env stepped in a loop with pre-drawn uniform random actions, reset at the horizon
  or on termination (as benchmarks/sampler_throughput.py's raw reference);
- block: one EnvBlock of `--block` sub-envs stepped for one horizon with N(0, 1) actions, through
  the family's block stepper and through each env's `step` (METARL_BLOCK_STEP=0), as a sampler
  worker steps its share.

Rates are per second of this process's CPU time (time.process_time), so that other processes on a
shared machine do not count; everything runs in this one process, on one thread. Simulated seconds
per second = actions/s x the env's dt: what a family with a shorter time step pays to cover the
same motion. The families are measured in turn, `--rounds` times, and the best of the rounds is
kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from metarl.tasks import TaskFamily, make_family
from metarl.vec.block import EnvBlock

FAMILIES = [
    "cheetah-vel",
    "cheetah-vel-rllab",
    "cheetah-dir",
    "cheetah-dir-rllab",
    "ant-vel",
    "ant-vel-rllab",
    "ant-dir",
    "ant-dir-rllab",
]


def env_steps_per_s(family: TaskFamily, steps: int, seed: int = 0) -> float:
    """Steps per CPU second of one env through `env.step`, reset at the horizon or on
    termination."""
    env = family.make_env()
    env.unwrapped.set_task(family.sample_tasks(1, np.random.default_rng(seed))[0])
    low, high = env.action_space.low, env.action_space.high
    rng = np.random.default_rng(seed)
    actions = rng.uniform(low, high, size=(steps, *low.shape)).astype(np.float32)
    env.reset(seed=seed)
    t, start = 0, time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        t += 1
        if terminated or truncated or t == family.horizon:
            env.reset()
            t = 0
    return steps / (time.process_time() - start)


def block_steps_per_s(family: TaskFamily, size: int, block_step: bool) -> float:
    """Steps of live sub-envs per CPU second, one EnvBlock of `size` sub-envs over one horizon."""
    previous = os.environ.get("METARL_BLOCK_STEP")
    os.environ["METARL_BLOCK_STEP"] = "1" if block_step else "0"
    try:
        block = EnvBlock(family.make_env, 0, size)
    finally:
        if previous is None:
            del os.environ["METARL_BLOCK_STEP"]
        else:
            os.environ["METARL_BLOCK_STEP"] = previous
    assert (block.stepper is not None) == block_step, "the family has no block stepper"
    block.set_tasks(family.sample_tasks(size, np.random.default_rng(0)))
    out = np.zeros((size, block.spaces.obs_dim + 2), dtype=np.float32)
    block.reset(0, out)
    shape = (family.horizon, size, block.spaces.act_dim)
    actions = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    steps, start = 0, time.process_time()
    for action in actions:
        steps += int((~block.done).sum())
        block.step(action, out)
    return steps / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=FAMILIES)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20000, help="env.step calls per round")
    parser.add_argument("--block", type=int, default=100, help="sub-envs in the block")
    parser.add_argument("--json", default=None, help="also write the result to this file")
    args = parser.parse_args()

    best = {name: {"env_step": 0.0, "block": 0.0, "block_env_step": 0.0} for name in args.envs}
    for _ in range(args.rounds):
        for name in args.envs:
            family = make_family(name)
            rates = {
                "env_step": env_steps_per_s(family, args.steps),
                "block": block_steps_per_s(family, args.block, block_step=True),
                "block_env_step": block_steps_per_s(family, args.block, block_step=False),
            }
            for key, rate in rates.items():
                best[name][key] = max(best[name][key], rate)

    print(f"best of {args.rounds} rounds; block of {args.block} sub-envs; actions per CPU second")
    header = ("family", "dt", "env.step", "sim s/s", "block", "block,step")
    print("{:20s} {:>5s} {:>9s} {:>8s} {:>9s} {:>10s}".format(*header))
    for name, rates in best.items():
        env = make_family(name).make_env()
        rates["dt"] = float(env.dt)
        rates["simulated_s_per_s"] = rates["env_step"] * rates["dt"]
        columns = ("dt", "env_step", "simulated_s_per_s", "block", "block_env_step")
        print(
            "{:20s} {:5.2f} {:9.0f} {:8.0f} {:9.0f} {:10.0f}".format(name, *map(rates.get, columns))
        )
    if args.json:
        meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rates": best}, f, indent=1)


if __name__ == "__main__":
    main()
