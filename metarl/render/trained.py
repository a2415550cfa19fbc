"""A trained run, loaded from its latest checkpoint, adapted to held-out tasks, and rolled out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from metarl import checkpoint
from metarl.adapt import adaptation_rollouts, step_scales
from metarl.algos import trained_update_rule
from metarl.config import Config
from metarl.policy import MLPPolicy, Params
from metarl.rundir import load_config
from metarl.tasks import TaskFamily, make_family
from metarl.update_rules import UpdateRule


@dataclass
class Trained:
    cfg: Config
    family: TaskFamily
    policy: MLPPolicy
    rule: UpdateRule
    iteration: int
    device: torch.device

    def held_out_tasks(self, n: int) -> list[Any]:
        """The first n of the run's held-out tasks (eval.seed), as the evaluation draws them."""
        from metarl.held_out import held_out_tasks

        tasks, _ = held_out_tasks(self.cfg, self.family, self.cfg.eval.num_tasks)
        return tasks[:n]

    def adapted(self, tasks: list[Any], steps: int, episodes: int) -> list[Params]:
        """Per-task parameters [N, ...] after 0, 1, ..., `steps` inner steps, with the evaluation's
        schedule (the run's update rule for its trained steps, then scaled by
        eval.later_lr_scale). Each j-step adaptation starts from the same sampler seed, so it is
        the first j steps of the longer one."""
        from metarl.build import make_sampler
        from metarl.held_out import held_out_seeds

        base = {
            k: v.detach().unsqueeze(0).expand(len(tasks), *v.shape)
            for k, v in self.policy.params().items()
        }
        params = [base]
        for j in range(1, steps + 1):
            sampler = make_sampler(
                self.cfg,
                self.family,
                self.policy,
                len(tasks),
                episodes,
                self.device,
                held_out_seeds(self.cfg.eval.seed)[1],  # the evaluation's episode noise
            )
            try:
                _, adapted = adaptation_rollouts(
                    sampler,
                    self.policy.params(),
                    self.rule,
                    tasks,
                    j,
                    self.cfg.inner,
                    step_scales(self.cfg.inner, j, self.cfg.eval.later_lr_scale),
                )
            finally:
                sampler.close()
            params.append(adapted)
        return params


def load(run_dir: Path, device: str = "cpu") -> Trained:
    from metarl.build import build_policy, resolve_device

    cfg = load_config(run_dir)
    dev = resolve_device(device)
    state = checkpoint.load(checkpoint.latest(run_dir), map_location=dev)
    family = make_family(cfg.env.name, cfg.env.horizon, cfg.env.imports)
    policy = build_policy(cfg, family).to(dev)
    policy.load_state_dict(state["policy"])
    # The algorithm only reads the sampler's device when it is built to hand back its rule.
    rule = trained_update_rule(cfg, policy, SimpleNamespace(device=dev), state)
    return Trained(cfg, family, policy, rule, int(state["iteration"]), dev)


def task_params(params: Params, i: int) -> Params:
    return {k: v[i] for k, v in params.items()}


@torch.no_grad()
def act(
    policy: MLPPolicy,
    params: Params,
    obs: np.ndarray,
    generator: torch.Generator | None,
    device: torch.device,
) -> np.ndarray:
    """The policy's action for one observation: its mean (Gaussian) or most likely action
    (categorical) when `generator` is None, else a sample."""
    x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=device).reshape(1, 1, -1)
    x = x.to(next(iter(params.values())).dtype)
    if generator is not None:
        action = policy.sample(params, x, generator)
    else:
        dist = policy.distribution(params, x)
        action = dist[0] if len(dist) == 2 else dist[0].argmax(-1, keepdim=True).float()
    return action.reshape(-1).cpu().numpy()


def rollout(
    env: gym.Env,
    policy: MLPPolicy,
    params: Params,
    horizon: int,
    device: torch.device,
    seed: int,
    stochastic: bool = False,
    on_step: Any = None,
) -> tuple[np.ndarray, float]:
    """One episode on `env` (its task already set); returns the observations [T + 1, obs] and
    the return. `on_step(t, obs, reward, info)` is called after each step."""
    generator = None
    if stochastic:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
    obs, _ = env.reset(seed=seed)
    observations, total = [np.asarray(obs, dtype=np.float64)], 0.0
    low, high = getattr(env.action_space, "low", None), getattr(env.action_space, "high", None)
    for t in range(horizon):
        action = act(policy, params, obs, generator, device)
        if isinstance(env.action_space, gym.spaces.Discrete):
            action = int(action[0])
        elif low is not None:
            action = np.clip(action, low, high)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        observations.append(np.asarray(obs, dtype=np.float64))
        if on_step is not None:
            on_step(t, obs, float(reward), info)
        if terminated:
            break
    return np.stack(observations), total
