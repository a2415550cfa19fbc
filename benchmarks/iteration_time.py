"""Seconds per meta-iteration at the paper configuration, with the time split.

    python benchmarks/iteration_time.py --algo maml --iterations 20
    python benchmarks/iteration_time.py --algo maml --set outer.fisher_subsample=1.0
    python benchmarks/iteration_time.py --algo maml --env cheetah-vel --iterations 5
    python benchmarks/iteration_time.py --algo maml --device cuda --max-seconds 30 --json t.json

Runs the same code path as train.py (configs/<algo>/<env>.yaml, the same learner), skips the
first `--warmup` iterations, and prints the median seconds per iteration, the median time spent in
sampling / adaptation / outer update, env steps per second, and the learner process's peak resident
memory. With `--max-seconds`, timing stops once the timed iterations have taken that long, even
before `--iterations` (the result says how many were timed). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time

import torch

from metarl.build import build
from metarl.cli import CONFIGS_DIR
from metarl.config import build_config

PHASES = ("sampling", "adaptation", "update")


def measure(
    algo: str,
    env: str = "point-goal",
    iterations: int = 20,
    warmup: int = 3,
    device: str = "cpu",
    overrides: list[str] | None = None,
    max_seconds: float | None = None,
) -> dict:
    """Times `iterations` meta-iterations after `warmup` untimed ones; returns the result dict."""
    overrides = list(overrides or [])
    cfg = build_config(algo, env, None, [*overrides, f"device={device}"], CONFIGS_DIR)
    run = build(cfg)
    totals, steps = [], []
    phases: dict[str, list[float]] = {k: [] for k in PHASES}
    timed = 0.0
    try:
        for i in range(warmup + iterations):
            tasks = run.family.sample_tasks(cfg.sampler.meta_batch_size, run.task_rng)
            start = time.perf_counter()
            metrics = run.algo.iterate(tasks)
            env_steps = float(metrics["perf/env_steps"])  # syncs, like the trainer's one gather
            elapsed = time.perf_counter() - start
            split = run.algo.timer.reset()
            if i < warmup:
                continue
            totals.append(elapsed)
            steps.append(env_steps / elapsed)
            for k in phases:
                phases[k].append(split.get(k, 0.0))
            timed += elapsed
            if max_seconds is not None and timed >= max_seconds:
                break
    finally:
        run.sampler.close()
    cuda = run.device.type == "cuda"
    return {
        "algo": algo,
        "env": env,
        "device": str(run.device),
        "device_name": torch.cuda.get_device_name(run.device) if cuda else None,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": str(torch.__version__),
        "overrides": overrides,
        "meta_batch_size": cfg.sampler.meta_batch_size,
        "episodes_per_task": cfg.sampler.episodes_per_task,
        "warmup": warmup,
        "iterations": len(totals),
        "iterations_asked": iterations,
        "stopped_by_max_seconds": len(totals) < iterations,
        "s_per_iteration_median": statistics.median(totals),
        "s_per_iteration_mean": statistics.fmean(totals),
        "s_per_iteration_all": totals,
        "split_median_s": {k: statistics.median(v) for k, v in phases.items()},
        "env_steps_per_s_median": statistics.median(steps),
        # The learner process only (sampler workers are separate processes).
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_cuda_mb": torch.cuda.max_memory_allocated(run.device) / 2**20 if cuda else None,
        "malloc_tuning": os.environ.get("METARL_MALLOC_TUNING") != "0",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--algo", default="maml", choices=["maml", "meta-sgd", "reptile", "meta-lstm"]
    )
    parser.add_argument("--env", default="point-goal")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop timing once the timed iterations have taken this long (at least one is timed)",
    )
    parser.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[])
    parser.add_argument("--json", default=None, help="also write the result to this file")
    args = parser.parse_args()
    result = measure(
        args.algo,
        args.env,
        args.iterations,
        args.warmup,
        args.device,
        args.overrides,
        args.max_seconds,
    )
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
