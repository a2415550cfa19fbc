"""Builds a run from a config: device, task family, policy, sampler, algorithm.

Training (trainer.py), evaluation (evaluate.py, periodic_eval.py) and rendering build from here, so
that they step envs and shape policies the same way.
"""

from __future__ import annotations

import random
import sys
import warnings

import gymnasium as gym
import numpy as np
import torch

from metarl import allocator, preflight, supervised, tracking
from metarl.algos import ALGORITHMS
from metarl.config import Config
from metarl.errors import ConfigError
from metarl.policy import CategoricalMLPPolicy, GaussianMLPPolicy, MLPPolicy
from metarl.run import Run
from metarl.sampler import Sampler
from metarl.supervised import ExampleSampler, SupervisedFamily
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


def build_policy(cfg: Config, family: TaskFamily | SupervisedFamily) -> MLPPolicy:
    """A categorical policy for Discrete action spaces, a Gaussian one for Box; for a supervised
    family, the plain MLP from its inputs to its outputs (regression values or a logit);
    initialised by policy.init."""
    policy = _make_policy(cfg, family)
    policy.initialise(cfg.policy.init)
    return policy


def _make_policy(cfg: Config, family: TaskFamily | SupervisedFamily) -> MLPPolicy:
    hidden, activation = cfg.policy.hidden_sizes, cfg.policy.activation
    if isinstance(family, SupervisedFamily):
        return MLPPolicy(family.input_dim, family.output_dim, hidden, activation)
    env = family.prototype
    obs_dim = int(np.prod(env.observation_space.shape))
    if isinstance(env.action_space, gym.spaces.Discrete):
        # Box-only keys, each with the reason it cannot apply to a categorical policy.
        for key, value, unset, reason in (
            ("action_scale", cfg.policy.action_scale, 1.0, ", which cannot be scaled"),
            ("min_std", cfg.policy.min_std, None, ": its categorical policy has no sigma"),
        ):
            if value != unset:
                raise ConfigError(
                    f"Config key 'policy.{key}' is {value}, but '{cfg.env.name}' has Discrete "
                    f"actions{reason}. Drop the key."
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


def build(cfg: Config) -> Run:
    """Everything a run needs, validated before the first rollout."""
    device = resolve_device(cfg.device)
    tracking.check(cfg)
    family = make_task_family(cfg)
    cfg.env.horizon = family.horizon  # the resolved value is what the run's config.yaml records
    for note in getattr(family, "notes", ()):  # e.g. an old-gym env converted by shimmy
        print(f"note: {note}", file=sys.stderr)
    preflight.check_memory(cfg, family, device)  # before the batch's buffers are allocated
    if cfg.eval.tasks == "paper":  # fail now, not when training ends
        if not isinstance(family, TaskFamily):
            raise ConfigError(
                f"eval.tasks: paper names the MAML paper's RL test tasks; {cfg.env.name} is a "
                "supervised family. Use eval.tasks: sampled (the default)."
            )
        family.paper_tasks(1)
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
