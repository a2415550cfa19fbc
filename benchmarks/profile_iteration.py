"""Where one meta-iteration's time goes, op by op (torch.profiler), on the CPU or a GPU.

    python benchmarks/profile_iteration.py --algo maml --device cuda --json profile.json
    python benchmarks/profile_iteration.py --algo maml --set sampler.meta_batch_size=200

Builds the run train.py builds (configs/<algo>/<env>.yaml), runs `--warmup` iterations, then
profiles one and prints the ops that take the most time on the device (self CUDA time) and on the
host (self CPU time), with their call counts, and the number of kernel launches. A GPU iteration
made of many small kernels is bound by launching them (host time per launch times their number),
not by the GPU's arithmetic; the profiler's own overhead inflates the times, so compare them with
each other, and take seconds per iteration from iteration_time.py.
"""

from __future__ import annotations

import argparse
import json
import time

from torch.profiler import ProfilerActivity, profile

from metarl.build import build
from metarl.cli import CONFIGS_DIR
from metarl.config import build_config

LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernelEx")


def _device_us(event) -> float:
    # torch >= 2.4 names it self_device_time_total; older versions self_cuda_time_total.
    return float(
        getattr(event, "self_device_time_total", getattr(event, "self_cuda_time_total", 0))
    )


def profile_iteration(
    algo: str,
    env: str = "point-goal",
    device: str = "cpu",
    warmup: int = 2,
    top: int = 20,
    overrides: list[str] | None = None,
) -> dict:
    overrides = list(overrides or [])
    cfg = build_config(algo, env, None, [*overrides, f"device={device}"], CONFIGS_DIR)
    run = build(cfg)
    cuda = run.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    try:
        for _ in range(warmup):
            run.algo.iterate(run.family.sample_tasks(cfg.sampler.meta_batch_size, run.task_rng))
        run.algo.timer.reset()
        tasks = run.family.sample_tasks(cfg.sampler.meta_batch_size, run.task_rng)
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            metrics = run.algo.iterate(tasks)
            float(metrics["perf/env_steps"])  # waits for the device, as the trainer's gather does
            elapsed = time.perf_counter() - start
        split = run.algo.timer.reset()
    finally:
        run.sampler.close()
    events = prof.key_averages()

    def row(e) -> dict:
        return {
            "name": e.key,
            "calls": e.count,
            "self_cpu_ms": e.self_cpu_time_total / 1e3,
            "self_device_ms": _device_us(e) / 1e3,
        }

    by_cpu = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    by_device = sorted(events, key=_device_us, reverse=True)[:top] if cuda else []
    launches = [e for e in events if e.key in LAUNCHES]
    return {
        "algo": algo,
        "env": env,
        "device": str(run.device),
        "overrides": overrides,
        "s_profiled_iteration": elapsed,
        "split_s": split,
        "kernel_launches": sum(e.count for e in launches) if cuda else None,
        "launch_cpu_ms": sum(e.self_cpu_time_total for e in launches) / 1e3 if cuda else None,
        "device_ms_total": sum(_device_us(e) for e in events) / 1e3 if cuda else None,
        "top_by_device_time": [row(e) for e in by_device],
        "top_by_cpu_time": [row(e) for e in by_cpu],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", default="maml", choices=["maml", "meta-sgd", "reptile"])
    parser.add_argument("--env", default="point-goal")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--top", type=int, default=20, help="how many ops to list")
    parser.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[])
    parser.add_argument("--json", default=None, help="also write the result to this file")
    args = parser.parse_args()
    result = profile_iteration(
        args.algo, args.env, args.device, args.warmup, args.top, args.overrides
    )
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
