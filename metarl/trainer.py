"""The meta-training loop over a run that build.py builds from a Config (train.py is a thin CLI).

A run is resumable: checkpoints hold every state the loop reads (run_state.py), TensorBoard
events after the resumed iteration are purged, and SIGINT / SIGTERM are handled in every phase
(interrupts.py). One process at a time writes into a run (runlock.py); its disk and the memory of
the configured batch are checked before anything is written (storage.py, preflight.py).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from metarl import (
    checkpoint,
    interrupts,
    preflight,
    run_state,
    storage,
    tracking,
)
from metarl.build import build
from metarl.config import Config, save_yaml
from metarl.errors import ConfigError, NumericalError, WorkerError
from metarl.interrupts import Interrupted
from metarl.logger import Logger
from metarl.periodic_eval import HeldOutEvaluator
from metarl.run import Run
from metarl.rundir import environment_info, load_config, make_run_dir
from metarl.runlock import RunLock
from metarl.tb_layout import HELD_OUT_FIGURE


def _gather(metrics: dict[str, torch.Tensor]) -> dict[str, float]:
    """All of an iteration's scalars to the host in one transfer."""
    keys = list(metrics)
    values = torch.stack(
        [torch.as_tensor(metrics[k]).detach().float().reshape(()).cpu() for k in keys]
    )
    return dict(zip(keys, values.tolist()))


def _check_finite(scalars: dict[str, float], iteration: int, run_dir: Path) -> None:
    """Raises NumericalError naming where a NaN/inf first appeared; pops the guard flags.

    Guard flags ('guard/<what>', 1.0 when finite) arrive in pipeline order, so the first bad one
    is the source and the rest is where it spread.
    """
    guards = {k: scalars.pop(k) for k in [k for k in scalars if k.startswith("guard/")]}
    bad = [k.removeprefix("guard/") for k, ok in guards.items() if ok < 1]
    bad += [k for k, value in scalars.items() if not math.isfinite(value)]
    if bad:
        spread = f" It then spread to: {', '.join(bad[1:])}." if len(bad) > 1 else ""
        raise NumericalError(
            f"NaN or inf at iteration {iteration}, first in {bad[0]}.{spread} The run stopped "
            f"before saving this iteration; {_last_checkpoint(run_dir)}. Likely causes: an env "
            "returning NaN/inf rewards or observations, or a learning rate or max_kl too large."
        )


def _last_checkpoint(run_dir: Path) -> str:
    saved = checkpoint.iteration_checkpoints(run_dir)
    if not saved:
        return "no checkpoint had been saved yet"
    return (
        f"the last good checkpoint, '{saved[-1]}', is intact (resume with "
        f"python train.py --resume {run_dir})"
    )


def save_checkpoint(run: Run, run_dir: Path, iteration: int, total: float, name: str) -> Path:
    path = run_dir / "checkpoints" / name
    checkpoint.save(path, run_state.capture(run, iteration, total))
    checkpoint.prune(run_dir, run.cfg.log.keep_checkpoints)
    return path


def _start(cfg: Config, held: contextlib.ExitStack, disk: interrupts.OnDisk) -> Run:
    run = build(cfg)
    held.callback(run.sampler.close)
    # Everything that can fail is done before the run directory exists.
    info = yaml.safe_dump(environment_info(cfg.seed, run.device), sort_keys=False)
    needed = preflight.disk_needed(cfg, preflight.checkpoint_bytes(run), cfg.iterations)
    disk.run_dir, disk.created = make_run_dir(cfg), True
    held.enter_context(RunLock(disk.run_dir, "training", new=True))
    storage.check_writable(disk.run_dir, needed, "the new run")
    save_yaml(cfg, disk.run_dir / "config.yaml")
    storage.write_text(disk.run_dir / "environment.yaml", info)
    return run


def _resume(cfg: Config, held: contextlib.ExitStack, disk: interrupts.OnDisk, state: dict) -> Run:
    run_dir = disk.run_dir
    held.enter_context(RunLock(run_dir, "training (resume)"))
    disk.checkpoint, disk.iteration = checkpoint.latest(run_dir), state["iteration"]
    storage.probe(run_dir, f"the run '{run_dir}'")
    storage.remove_stale(run_dir)  # of killed writers: the lock says no other writer owns them
    needed = preflight.disk_needed(
        cfg, disk.checkpoint.stat().st_size, cfg.iterations - state["iteration"]
    )
    storage.check_free(run_dir, needed, f"resuming '{run_dir}'")
    run = build(cfg)
    held.callback(run.sampler.close)
    run_state.restore(run, state, disk.checkpoint)  # validated against the run before any of it
    save_yaml(cfg, run_dir / "config.yaml")  # --iterations or --device may have changed
    return run


def load_for_resume(
    run_dir: Path, iterations: int | None, device: str | None
) -> tuple[Config, dict]:
    """The config and latest checkpoint of an interrupted run, validated."""
    cfg = load_config(run_dir)
    if iterations is not None:
        cfg.iterations = iterations
    if device is not None:
        cfg.device = device
    state = checkpoint.load(checkpoint.latest(run_dir))
    if state["iteration"] >= cfg.iterations:
        raise ConfigError(
            f"The run in '{run_dir}' already finished {state['iteration']} of {cfg.iterations} "
            f"iterations. To train further, pass --iterations N with N > {state['iteration']}."
        )
    return cfg, state


def train(cfg: Config, resume_dir: Path | None = None, resume_state: dict | None = None) -> Path:
    """Runs (or, with resume_dir and resume_state, continues) meta-training; returns the run dir.

    The run directory is locked for the whole call. A fresh run that stops before its first
    iteration leaves no directory behind; SIGINT / SIGTERM end it with `Interrupted`.
    """
    disk = interrupts.OnDisk(resume_dir, iterations=cfg.iterations)
    with interrupts.handling() as stop, contextlib.ExitStack() as held:
        try:
            _train(cfg, resume_state, stop, held, disk)
        except BaseException as err:
            removed = _discard_unstarted(disk)
            if isinstance(err, interrupts.Abandoned):
                raise Interrupted(disk.abandoned(err, removed), err.signum) from None
            raise
    return disk.run_dir


def _discard_unstarted(disk: interrupts.OnDisk) -> bool:
    """A fresh run that stopped before its first iteration holds nothing worth keeping."""
    if disk.created and not disk.started and disk.run_dir is not None:
        shutil.rmtree(disk.run_dir, ignore_errors=True)
        return not disk.run_dir.exists()
    return False


def _train(
    cfg: Config,
    resume_state: dict | None,
    stop: interrupts.Stop,
    held: contextlib.ExitStack,
    disk: interrupts.OnDisk,
) -> None:
    stop.enter("start-up", interrupts.ABANDON)
    if disk.run_dir is None:
        run = _start(cfg, held, disk)
        first, env_steps_total = 1, 0.0
    else:
        run = _resume(cfg, held, disk, resume_state)
        first, env_steps_total = resume_state["iteration"] + 1, resume_state["env_steps_total"]
    run_dir = disk.run_dir
    verb = "iterations:" if disk.created else "resuming at iteration"
    print(
        f"metarl: {cfg.algo} on {cfg.env.name}, {verb} {first}..{cfg.iterations}, "
        f"device {run.device}"
    )
    print(f"Run directory: {run_dir}")
    # The root, not the run directory: TensorBoard names runs by their path below --logdir.
    print(f"Watch the curves: tensorboard --logdir {cfg.log.root}", flush=True)
    tracker = tracking.start(cfg, run_dir, resumed=not disk.created)
    # purge_step hides events of iterations after the checkpoint that a killed run had written.
    logger = _open_logger(run_dir, cfg, first, tracker)
    if disk.created:
        logger.describe(cfg)
    evaluator = HeldOutEvaluator(run)

    def save(iteration: int) -> None:
        stop.enter(f"the checkpoint of iteration {iteration}", interrupts.FINISH)
        name = "final.pt" if iteration == cfg.iterations else f"iter_{iteration:06d}.pt"
        disk.checkpoint = save_checkpoint(run, run_dir, iteration, env_steps_total, name)
        disk.iteration = iteration

    finished = False
    try:
        for iteration in range(first, cfg.iterations + 1):
            stop.enter(f"iteration {iteration} of {cfg.iterations}", interrupts.FINISH)
            disk.started = True
            try:
                scalars = _iterate(run, iteration, run_dir)
            except WorkerError as err:
                raise WorkerError(
                    f"Iteration {iteration}: {err} The run stopped; {_last_checkpoint(run_dir)}."
                ) from err
            if "perf/env_steps" in scalars:  # RL families (supervised ones take no env steps)
                env_steps_total += scalars.pop("perf/env_steps")
                scalars["throughput/env_steps_total"] = env_steps_total
            if evaluator.due(iteration):
                held_out, figure = evaluator.evaluate(iteration)
                scalars.update(held_out)
                logger.figure(HELD_OUT_FIGURE, figure, iteration)
            logger.log(scalars, iteration)
            if iteration == cfg.iterations or iteration % cfg.log.checkpoint_every == 0:
                save(iteration)
            if stop.requested:
                if disk.iteration != iteration:
                    save(iteration)
                break
        finished = True
    except (OSError, MemoryError, RuntimeError) as err:  # a disk filling up, memory running out
        if storage.is_storage_fault(err):
            path = Path(err.filename or run_dir)
            raise storage.fault_error(path, err, f"The run stopped; {disk.newest()}.") from err
        if oom := preflight.out_of_memory(err, cfg, run.device):
            raise type(oom)(f"{oom} The run stopped; {disk.newest()}.") from err
        raise
    finally:
        stop.enter("shutting down", interrupts.IGNORE)
        run.sampler.close()
        try:
            logger.close()
        except OSError as err:
            # A writer that failed in the loop raises the same error again: it is being reported.
            if finished:
                if not storage.is_storage_fault(err):
                    raise
                raise storage.fault_error(
                    run_dir, err, "The last iterations' TensorBoard events may be missing."
                ) from err
    if stop.requested:
        raise Interrupted(disk.stopped(stop.signum, cfg.eval.at_end), stop.signum)
    if cfg.eval.at_end:
        from metarl.evaluate import evaluate_run

        stop.enter(interrupts.EVALUATION, interrupts.ABANDON)
        result = evaluate_run(run_dir, device=str(run.device))
        stop.enter("shutting down", interrupts.IGNORE)
        if tracker is not None:
            tracker.final(result)
    if tracker is not None:
        tracker.finish()
    print(f"Done. Outputs (config, TensorBoard events, checkpoints, eval) are in {run_dir}")


def _open_logger(run_dir: Path, cfg: Config, first: int, tracker: Any) -> Logger:
    """The TensorBoard logger; on a full or read-only disk, an error and no empty event file."""
    try:
        return Logger(run_dir, cfg.iterations, cfg.log.print_every, first, tracker)
    except OSError as err:
        # The writer creates its file before it fails to write the header into it.
        for events in run_dir.glob(f"events.out.tfevents.*.{os.getpid()}.*"):
            if events.stat().st_size == 0:
                events.unlink()
        if not storage.is_storage_fault(err):
            raise
        raise storage.fault_error(run_dir, err, "No event file was left behind.") from err


def _iterate(run: Run, iteration: int, run_dir: Path) -> dict[str, float]:
    """One meta-iteration; its scalars gathered to the host once and checked for NaN/inf."""
    start = time.perf_counter()
    tasks = run.family.sample_tasks(run.cfg.sampler.meta_batch_size, run.task_rng)
    metrics = run.algo.iterate(tasks)
    params = run.algo.meta_parameters()
    metrics["guard/the meta-parameters after the update"] = torch.stack(
        [p.isfinite().all() for p in params]
    ).all()
    scalars = _gather(metrics)
    elapsed = time.perf_counter() - start
    for phase, seconds in run.algo.timer.reset().items():
        scalars[f"time/{phase}"] = seconds
    scalars["time/iteration"] = elapsed
    if "perf/env_steps" in scalars:
        scalars["throughput/env_steps_per_s"] = scalars["perf/env_steps"] / elapsed
    _check_finite(scalars, iteration, run_dir)
    return scalars
