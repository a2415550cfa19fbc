"""What every algorithm shares: one meta-iteration's data collection, and its metrics.

    D_train, theta'_i, D_test = adaptation_rollouts(theta, alpha, tasks)   # sampler + adapt()
    metrics = self.update(D_train, D_test, theta'_i)                        # the algorithm

Subclasses implement `update` only (and may add learnable step sizes).
"""

from __future__ import annotations

from typing import Any

import torch

from metarl.adapt import StepSizes, adaptation_rollouts
from metarl.config import Config
from metarl.episodes import Episodes
from metarl.policy import MLPPolicy, Params
from metarl.sampler import Sampler
from metarl.timing import Timer


class MetaLearner:
    name = "base"
    keeps_adaptation_graph = False
    """True when update() differentiates through the sampling-phase adaptation (MAML)."""

    def __init__(self, policy: MLPPolicy, sampler: Sampler, cfg: Config) -> None:
        self.policy = policy
        self.sampler = sampler
        self.cfg = cfg
        self.params: Params = policy.params()
        self.timer = Timer(sampler.device)

    # --- what an algorithm may override -------------------------------------------------------
    def step_sizes(self) -> StepSizes:
        return self.cfg.inner.lr

    def meta_parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def update(
        self, train: list[Episodes], test: Episodes, adapted: Params
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """Algorithm state beyond the policy (step sizes, optimiser) for checkpoints."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # --- the meta-iteration --------------------------------------------------------------------
    def iterate(self, tasks: list) -> dict[str, torch.Tensor]:
        """One meta-iteration on `tasks`; returns metrics as 0-d tensors (no host sync here)."""
        batches, adapted = adaptation_rollouts(
            self.sampler,
            self.params,
            self.step_sizes(),
            tasks,
            self.cfg.inner.steps,
            self.cfg.inner,
            timer=self.timer,
            keep_graph=self.keeps_adaptation_graph,
        )
        train, test = batches[:-1], batches[-1]
        with self.timer("update"):
            metrics = self.update(train, test, adapted)
        metrics["returns/pre_adapt"] = train[0].episode_returns().mean()
        metrics["returns/post_adapt"] = test.episode_returns().mean()
        if len(batches) > 2:
            for k, episodes in enumerate(batches[1:], start=1):
                metrics[f"returns/post_adapt_step{k}"] = episodes.episode_returns().mean()
        if test.successes is not None:  # Meta-World: the share of episodes that succeeded
            metrics["success/pre_adapt"] = train[0].successes.mean()
            metrics["success/post_adapt"] = test.successes.mean()
        metrics["perf/env_steps"] = sum(b.num_steps for b in batches)
        guards = self._guards(batches, metrics)  # pops the update's flag first, to order it last
        return {**metrics, **guards}

    @staticmethod
    def _guards(batches: list[Episodes], metrics: dict) -> dict[str, torch.Tensor]:
        """Finiteness flags in pipeline order, so the first false one names where a NaN/inf came
        from; they travel with the iteration's one gather (no extra host sync)."""
        guards = {}
        for j, batch in enumerate(batches):
            name = "D_test" if j == len(batches) - 1 else f"D_train (inner step {j + 1})"
            guards[f"guard/the observations of {name}"] = batch.observations.isfinite().all()
            guards[f"guard/the rewards of {name}"] = batch.rewards.isfinite().all()
            guards[f"guard/the advantages of {name}"] = batch.advantages.isfinite().all()
        if "guard/the meta-gradient" in metrics:
            guards["guard/the meta-gradient"] = metrics.pop("guard/the meta-gradient")
        return guards
