"""Seconds per meta-iteration at the paper configuration, with the time split.

    python benchmarks/iteration_time.py --algo maml --iterations 20
    python benchmarks/iteration_time.py --algo maml --set outer.fisher_subsample=1.0
    python benchmarks/iteration_time.py --algo maml --env cheetah-vel --iterations 5

Runs the same code path as train.py (configs/<algo>/<env>.yaml, the same learner), skips the
first `--warmup` iterations, and prints the median seconds per iteration, the median time spent in
sampling / adaptation / outer update, env steps per second, the learner process's CPU seconds per
iteration (its own threads; on a shared machine the steadier number) and its peak resident
memory. Run it on an otherwise idle machine.
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

from metarl.cli import CONFIGS_DIR
from metarl.config import build_config
from metarl.trainer import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--algo", default="maml", choices=["maml", "meta-sgd", "reptile", "meta-lstm"]
    )
    parser.add_argument("--env", default="point-goal")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[])
    parser.add_argument("--json", default=None, help="also write the result to this file")
    args = parser.parse_args()
    cfg = build_config(
        args.algo, args.env, None, [*args.overrides, f"device={args.device}"], CONFIGS_DIR
    )
    run = build(cfg)
    totals, cpu, phases, steps = [], [], {"sampling": [], "adaptation": [], "update": []}, []
    for i in range(args.warmup + args.iterations):
        tasks = run.family.sample_tasks(cfg.sampler.meta_batch_size, run.task_rng)
        start, start_cpu = time.perf_counter(), time.process_time()
        metrics = run.algo.iterate(tasks)
        env_steps = float(metrics["perf/env_steps"])  # syncs, like the trainer's one gather
        elapsed = time.perf_counter() - start
        elapsed_cpu = time.process_time() - start_cpu
        split = run.algo.timer.reset()
        if i < args.warmup:
            continue
        totals.append(elapsed)
        cpu.append(elapsed_cpu)
        steps.append(env_steps / elapsed)
        for k in phases:
            phases[k].append(split.get(k, 0.0))
    result = {
        "algo": args.algo,
        "env": args.env,
        "device": str(run.device),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": str(torch.__version__),
        "overrides": args.overrides,
        "iterations": args.iterations,
        "s_per_iteration_median": statistics.median(totals),
        "s_per_iteration_mean": statistics.fmean(totals),
        "cpu_s_per_iteration_median": statistics.median(cpu),
        "split_median_s": {k: statistics.median(v) for k, v in phases.items()},
        "env_steps_per_s_median": statistics.median(steps),
        # The learner process only (sampler workers are separate processes).
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "malloc_tuning": os.environ.get("METARL_MALLOC_TUNING") != "0",
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
