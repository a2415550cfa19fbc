"""Builds a run from a Config and runs the meta-training loop (train.py is a thin CLI over this)."""

from __future__ import annotations

import math
import platform
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import yaml

from metarl import checkpoint
from metarl.algos import ALGORITHMS, MetaLearner
from metarl.config import Config, save_yaml
from metarl.errors import ConfigError, NumericalError
from metarl.logger import Logger
from metarl.policy import GaussianMLPPolicy
from metarl.sampler import Sampler
from metarl.tasks import TaskFamily, make_family


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


def build_policy(cfg: Config, family: TaskFamily) -> GaussianMLPPolicy:
    env = family.prototype
    obs_dim = int(np.prod(env.observation_space.shape))
    act_dim = int(np.prod(env.action_space.shape))
    return GaussianMLPPolicy(
        obs_dim, act_dim, cfg.policy.hidden_sizes, cfg.policy.activation, cfg.policy.init_log_std
    )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def make_run_dir(cfg: Config) -> Path:
    """runs/<env>/<algo>/<time>-s<seed>/; never reuses an existing directory."""
    base = Path(cfg.log.root) / _slug(cfg.env.name) / cfg.algo
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = base / f"{stamp}-s{cfg.seed}"
    suffix = 1
    while run_dir.exists():
        run_dir = base / f"{stamp}-s{cfg.seed}-{suffix}"
        suffix += 1
    try:
        run_dir.mkdir(parents=True)
    except OSError as err:
        raise ConfigError(
            f"Cannot create the run directory '{run_dir}': {err.strerror}. "
            "Set log.root to a writable directory (e.g. --set log.root=/tmp/runs)."
        ) from err
    return run_dir


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment_info(seed: int, device: torch.device) -> dict[str, str | int]:
    return {
        "seed": seed,
        "device": str(device),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "gymnasium": str(gym.__version__),
        "numpy": str(np.__version__),
        "git_revision": _git_revision(),
        "command": " ".join(sys.argv),
    }


@dataclass
class Run:
    cfg: Config
    family: TaskFamily
    policy: GaussianMLPPolicy
    sampler: Sampler
    algo: MetaLearner
    device: torch.device
    task_rng: np.random.Generator


def build(cfg: Config) -> Run:
    """Everything a run needs, validated before the first rollout."""
    device = resolve_device(cfg.device)
    family = make_family(cfg.env.name, cfg.env.horizon)
    if not family.builtin:
        from metarl.check_env import check_family

        check_family(family)
    task_rng = seed_everything(cfg.seed)
    policy = build_policy(cfg, family).to(device)
    sampler = Sampler(
        family, policy, cfg.sampler.meta_batch_size, cfg.sampler.episodes_per_task, device, cfg.seed
    )
    algo = ALGORITHMS[cfg.algo](policy, sampler, cfg)
    return Run(cfg, family, policy, sampler, algo, device, task_rng)


def save_checkpoint(run: Run, run_dir: Path, iteration: int, name: str) -> Path:
    path = run_dir / "checkpoints" / name
    checkpoint.save(
        path,
        {
            "iteration": iteration,
            "policy": run.policy.state_dict(),
            "algo": run.algo.extra_state(),
            "config": run.cfg.to_dict(),
            "torch_rng": torch.get_rng_state(),
            "sampler_rng": run.sampler.generator.get_state(),
            "task_rng": run.task_rng.bit_generator.state,
        },
    )
    return path


def _gather(metrics: dict[str, torch.Tensor]) -> dict[str, float]:
    """All of an iteration's scalars to the host in one transfer."""
    keys = list(metrics)
    values = torch.stack(
        [torch.as_tensor(metrics[k]).detach().float().reshape(()).cpu() for k in keys]
    )
    return dict(zip(keys, values.tolist()))


_GUARDS = {
    "guard/rewards_finite": "the rewards of the sampled episodes",
    "guard/observations_finite": "the observations of the sampled episodes",
    "guard/advantages_finite": "the advantages",
    "guard/params_finite": "the meta-parameters after the update",
}


def _check_finite(scalars: dict[str, float], iteration: int, run_dir: Path) -> None:
    """Raises NumericalError naming every place a NaN/inf appeared; pops the guard flags."""
    bad = [what for key, what in _GUARDS.items() if scalars.pop(key, 1.0) < 1]
    bad += [key for key, value in scalars.items() if not math.isfinite(value)]
    if bad:
        raise NumericalError(
            f"NaN or inf in {', '.join(bad)} at iteration {iteration}. The run stopped before "
            f"saving this iteration; the last good checkpoint in '{run_dir / 'checkpoints'}' is "
            "intact. Likely causes: an env returning NaN/inf rewards or observations, or a "
            "learning rate or max_kl too large."
        )


def train(cfg: Config) -> Path:
    run = build(cfg)
    # Everything that can fail is done before the run directory exists.
    info = yaml.safe_dump(environment_info(cfg.seed, run.device), sort_keys=False)
    run_dir = make_run_dir(cfg)
    save_yaml(cfg, run_dir / "config.yaml")
    (run_dir / "environment.yaml").write_text(info)
    print(f"metarl: {cfg.algo} on {cfg.env.name}, {cfg.iterations} iterations, device {run.device}")
    print(f"Run directory: {run_dir}")
    print(f"Watch the curves: tensorboard --logdir {run_dir}", flush=True)
    logger = Logger(run_dir, cfg.iterations, cfg.log.print_every)
    logger.hparams("\n".join(f"    {line}" for line in yaml.safe_dump(cfg.to_dict()).splitlines()))
    env_steps_total = 0.0
    try:
        for iteration in range(1, cfg.iterations + 1):
            start = time.perf_counter()
            tasks = run.family.sample_tasks(cfg.sampler.meta_batch_size, run.task_rng)
            metrics = run.algo.iterate(tasks)
            params = run.algo.meta_parameters()
            metrics["guard/params_finite"] = torch.stack([p.isfinite().all() for p in params]).all()
            scalars = _gather(metrics)
            elapsed = time.perf_counter() - start
            for phase, seconds in run.algo.timer.reset().items():
                scalars[f"time/{phase}"] = seconds
            scalars["time/iteration"] = elapsed
            steps = scalars.pop("perf/env_steps")
            env_steps_total += steps
            scalars["perf/env_steps_per_s"] = steps / elapsed
            scalars["perf/env_steps_total"] = env_steps_total
            _check_finite(scalars, iteration, run_dir)
            logger.log(scalars, iteration)
            if iteration % cfg.log.checkpoint_every == 0 and iteration < cfg.iterations:
                save_checkpoint(run, run_dir, iteration, f"iter_{iteration:06d}.pt")
        save_checkpoint(run, run_dir, cfg.iterations, "final.pt")
    finally:
        logger.close()
        run.sampler.close()
    if cfg.eval.at_end:
        from metarl.evaluate import evaluate_run

        evaluate_run(run_dir, device=str(run.device))
    print(f"Done. Outputs (config, TensorBoard events, checkpoints, eval) are in {run_dir}")
    return run_dir
