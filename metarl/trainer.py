"""Builds a run from a Config and runs the meta-training loop (train.py is a thin CLI over this).

A run is resumable: checkpoints hold every state the loop reads (run_state.py), TensorBoard
events after the resumed iteration are purged, and SIGINT / SIGTERM are handled in every phase
(interrupts.py). One process at a time writes into a run (runlock.py); its disk and the memory of
the configured batch are checked before anything is written (storage.py, preflight.py).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml

from metarl import (
    allocator,
    checkpoint,
    interrupts,
    preflight,
    run_state,
    storage,
    supervised,
    tracking,
)
from metarl.algos import ALGORITHMS, MetaLearner
from metarl.config import Config, save_yaml
from metarl.errors import ConfigError, NumericalError
from metarl.interrupts import Interrupted
from metarl.logger import Logger
from metarl.parallel import WorkerError
from metarl.periodic_eval import HeldOutEvaluator
from metarl.policy import CategoricalMLPPolicy, GaussianMLPPolicy, MLPPolicy
from metarl.rundir import environment_info, load_config, make_run_dir
from metarl.runlock import RunLock
from metarl.sampler import Sampler
from metarl.supervised import ExampleSampler, SupervisedFamily
from metarl.tasks import TaskFamily, make_family
from metarl.tb_layout import HELD_OUT_FIGURE


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(
            f"Unknown device '{name}'. Valid choices: auto, cpu, cuda, cuda:N."
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"Device '{name}' was requested but CUDA is not available (torch {torch.__version__}, "
            "built for CPU or no GPU visible). Use --device cpu or --device auto."
        )
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"Unsupported device '{name}'. Valid choices: auto, cpu, cuda, cuda:N.")
    return device


def seed_everything(seed: int) -> np.random.Generator:
    """The one seeding entry point: torch, numpy, random; returns the task sampler's generator."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def build_policy(cfg: Config, family: TaskFamily | SupervisedFamily) -> MLPPolicy:
    """A categorical policy for Discrete action spaces, a Gaussian one for Box; for a supervised
    family, the plain MLP from its inputs to its outputs (regression values or a logit)."""
    hidden, activation = cfg.policy.hidden_sizes, cfg.policy.activation
    if isinstance(family, SupervisedFamily):
        return MLPPolicy(family.input_dim, family.output_dim, hidden, activation)
    env = family.prototype
    obs_dim = int(np.prod(env.observation_space.shape))
    if isinstance(env.action_space, gym.spaces.Discrete):
        if cfg.policy.action_scale != 1.0:
            raise ConfigError(
                f"Config key 'policy.action_scale' is {cfg.policy.action_scale}, but "
                f"'{cfg.env.name}' has Discrete actions, which cannot be scaled. Drop the key."
            )
        return CategoricalMLPPolicy(obs_dim, int(env.action_space.n), hidden, activation)
    act_dim = int(np.prod(env.action_space.shape))
    return GaussianMLPPolicy(obs_dim, act_dim, hidden, activation, cfg.policy.init_log_std)


def make_sampler(
    cfg: Config,
    family: TaskFamily | SupervisedFamily,
    policy: MLPPolicy,
    num_tasks: int,
    episodes_per_task: int,
    device: torch.device,
    seed: int,
) -> Sampler | ExampleSampler:
    """A sampler with the run's stepping settings (sampler.num_workers, backend, ray_address,
    max_retries): training and evaluation step their envs the same way. A supervised family
    gets an ExampleSampler (supervised.shots support and supervised.query query examples)."""
    if isinstance(family, SupervisedFamily):
        sup = cfg.supervised
        return ExampleSampler(family, policy, sup.shots, sup.query, device, seed)
    sc = cfg.sampler
    return Sampler(
        family,
        policy,
        num_tasks,
        episodes_per_task,
        device,
        seed,
        sc.num_workers,
        sc.backend,
        sc.ray_address,
        sc.max_retries,
        cfg.policy.action_scale,
    )


def few_shot_threads(device: torch.device) -> None:
    """One torch thread for a supervised family on the CPU. Its tensors are tiny (sine: 25 tasks
    x 10 examples x 40 units), so handing each op to a second OpenMP thread costs more than the
    op; on a busy 2-core machine a sine meta-iteration took 2.0 s with 2 threads and 0.10 s with
    one (docs/benchmarks.md)."""
    if device.type == "cpu":
        torch.set_num_threads(1)


def make_task_family(cfg: Config) -> TaskFamily | SupervisedFamily:
    """The run's family: a supervised one by name (sine, classify-2d), else an RL one."""
    if supervised.is_supervised(cfg.env.name):
        return supervised.make_family(cfg.env.name)
    return make_family(cfg.env.name, cfg.env.horizon, cfg.env.imports)


@dataclass
class Run:
    cfg: Config
    family: TaskFamily | SupervisedFamily
    policy: MLPPolicy
    sampler: Sampler | ExampleSampler
    algo: MetaLearner
    device: torch.device
    task_rng: np.random.Generator


def build(cfg: Config) -> Run:
    """Everything a run needs, validated before the first rollout."""
    device = resolve_device(cfg.device)
    tracking.check(cfg)
    family = make_task_family(cfg)
    cfg.env.horizon = family.horizon  # the resolved value is what the run's config.yaml records
    for note in getattr(family, "notes", ()):  # e.g. an old-gym env converted by shimmy
        print(f"note: {note}", file=sys.stderr)
    preflight.check_memory(cfg, family, device)  # before the batch's buffers are allocated
    if not family.builtin:
        from metarl.check_env import EnvCheckWarning, check_family

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", EnvCheckWarning)
            check_family(family, imports=cfg.env.imports)
        for warning in caught:  # one clean line each, not Python's file:line warning format
            print(f"warning: {warning.message}", file=sys.stderr)
    task_rng = seed_everything(cfg.seed)
    allocator.keep_large_allocations()  # page faults were a third of a CPU meta-update
    if isinstance(family, SupervisedFamily):
        few_shot_threads(device)
    policy = build_policy(cfg, family).to(device)
    sampler = make_sampler(
        cfg,
        family,
        policy,
        cfg.sampler.meta_batch_size,
        cfg.sampler.episodes_per_task,
        device,
        cfg.seed,
    )
    algo = ALGORITHMS[cfg.algo](policy, sampler, cfg)
    return Run(cfg, family, policy, sampler, algo, device, task_rng)


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
