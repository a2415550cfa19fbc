"""What every algorithm shares: one meta-iteration's data collection, and its metrics.

    D_train, theta'_i, D_test = adaptation_rollouts(theta, rule, tasks)   # sampler + adapt()
    metrics = self.update(D_train, D_test, theta'_i)                       # the algorithm

(adaptation_examples instead of adaptation_rollouts for a supervised family.) Subclasses
implement `update` and may learn their update rule (Meta-SGD's step sizes, the LSTM rule).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from metarl.adapt import Batch, adaptation_examples, adaptation_rollouts, step_scales
from metarl.config import Config
from metarl.episodes import Episodes
from metarl.errors import ConfigError
from metarl.policy import MLPPolicy, Params
from metarl.sampler import Sampler
from metarl.supervised import Examples, ExampleSampler
from metarl.timing import Timer
from metarl.update_rules import FixedStep, UpdateRule


class MetaLearner:
    name = "base"
    keeps_adaptation_graph = False
    """True when update() differentiates through the sampling-phase adaptation (MAML)."""

    def __init__(self, policy: MLPPolicy, sampler: Sampler | ExampleSampler, cfg: Config) -> None:
        self.policy = policy
        self.sampler = sampler
        self.cfg = cfg
        self.params: Params = policy.params()
        self.timer = Timer(sampler.device)
        self.supervised = isinstance(sampler, ExampleSampler)
        inner = cfg.inner
        if self.supervised and (inner.later_lr_scale != 1.0 or inner.loss_steps != "last"):
            raise ConfigError(
                f"inner.later_lr_scale and inner.loss_steps apply to RL families only, but "
                f"'{cfg.env.name}' is a supervised family (its evaluation scales every step "
                f"after the first by eval.later_lr_scale). Leave them at 1.0 and 'last'."
            )
        if inner.frozen:
            if self.name != "maml":
                raise ConfigError(
                    f"inner.frozen applies to maml only (its fixed step), but the algorithm is "
                    f"'{self.name}'. Leave it empty: --set inner.frozen=[]."
                )
            unknown = sorted(set(inner.frozen) - set(self.params))
            if unknown:
                raise ConfigError(
                    f"inner.frozen names {unknown}, which the policy does not have; its "
                    f"parameters are {list(self.params)}."
                )

    # --- what an algorithm may override -------------------------------------------------------
    def update_rule(self) -> UpdateRule:
        """The inner update rule adapt() applies: a fixed step of inner.lr by default."""
        return FixedStep(self.cfg.inner.lr, self.cfg.inner.frozen)

    def meta_parameters(self) -> list[torch.Tensor]:
        """What the outer update changes: theta, then the update rule's own parameters."""
        return list(self.params.values()) + self.update_rule().parameters()

    def update(self, train: list[Batch], test: Batch, adapted: Params) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """Algorithm state beyond the policy (update rule, optimiser) for checkpoints."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # --- the meta-iteration --------------------------------------------------------------------
    def iterate(self, tasks: list) -> dict[str, torch.Tensor]:
        """One meta-iteration on `tasks`; returns metrics as 0-d tensors (no host sync here)."""
        inner = self.cfg.inner
        if self.supervised:
            batches, adapted = adaptation_examples(
                self.sampler,
                self.params,
                self.update_rule(),
                tasks,
                inner.steps,
                inner,
                timer=self.timer,
                keep_graph=self.keeps_adaptation_graph,
            )
        else:
            batches, adapted = adaptation_rollouts(
                self.sampler,
                self.params,
                self.update_rule(),
                tasks,
                inner.steps,
                inner,
                step_scales(inner, inner.steps),
                timer=self.timer,
                keep_graph=self.keeps_adaptation_graph,
            )
        train, test = batches[:-1], batches[-1]
        headline = self._supervised_metrics(test, adapted) if self.supervised else {}
        with self.timer("update"):
            metrics = self.update(train, test, adapted)
        self._floor_std()
        if self.supervised:
            metrics.update(headline)
        else:
            metrics.update(self._returns(batches))
        guards = self._guards(batches, metrics)  # pops the update's flag first, to order it last
        return {**metrics, **guards}

    @torch.no_grad()
    def _floor_std(self) -> None:
        """policy.min_std: keep the meta-policy's sigma at or above the floor. The outer update
        shrinks sigma as training goes on, and the inner gradient grows as 1/sigma, so later
        inner steps of a fixed size overshoot (docs/benchmarks.md, point-goal)."""
        floor = self.cfg.policy.min_std
        if floor is not None and "log_std" in self.params:
            self.params["log_std"].clamp_(min=math.log(floor))

    @staticmethod
    def _returns(batches: list[Episodes]) -> dict[str, torch.Tensor]:
        train, test = batches[:-1], batches[-1]
        metrics = {
            "returns/pre_adapt": train[0].episode_returns().mean(),
            "returns/post_adapt": test.episode_returns().mean(),
        }
        if len(batches) > 2:
            for k, episodes in enumerate(batches[1:], start=1):
                metrics[f"returns/post_adapt_step{k}"] = episodes.episode_returns().mean()
        if test.successes is not None:  # Meta-World: the share of episodes that succeeded
            metrics["success/pre_adapt"] = train[0].successes.mean()
            metrics["success/post_adapt"] = test.successes.mean()
        metrics["perf/env_steps"] = sum(b.num_steps for b in batches)
        return metrics

    @torch.no_grad()
    def _supervised_metrics(self, query: Examples, adapted: Params) -> dict[str, torch.Tensor]:
        """The query loss (and accuracy) of theta and of the adapted networks, before the update
        changes theta."""
        before = self.policy.mlp({k: v.detach() for k, v in self.params.items()}, query.inputs)
        after = self.policy.mlp({k: v.detach() for k, v in adapted.items()}, query.inputs)
        metrics = {
            "supervised/loss_pre_adapt": query.losses(before).mean(),
            "supervised/loss_post_adapt": query.losses(after).mean(),
        }
        if query.loss == "logistic":
            metrics["supervised/accuracy_pre_adapt"] = query.accuracy(before).mean()
            metrics["supervised/accuracy_post_adapt"] = query.accuracy(after).mean()
        return metrics

    @staticmethod
    def _guards(batches: list[Batch], metrics: dict) -> dict[str, torch.Tensor]:
        """Finiteness flags in pipeline order, so the first false one names where a NaN/inf came
        from; they travel with the iteration's one gather (no extra host sync)."""
        guards = {}
        if isinstance(batches[-1], Examples):
            for name, batch in (("support", batches[0]), ("query", batches[-1])):
                finite = batch.inputs.isfinite().all() & batch.targets.isfinite().all()
                guards[f"guard/the {name} examples"] = finite
        else:
            for j, batch in enumerate(batches):
                name = "D_test" if j == len(batches) - 1 else f"D_train (inner step {j + 1})"
                guards[f"guard/the observations of {name}"] = batch.observations.isfinite().all()
                guards[f"guard/the rewards of {name}"] = batch.rewards.isfinite().all()
                guards[f"guard/the advantages of {name}"] = batch.advantages.isfinite().all()
        if "guard/the meta-gradient" in metrics:
            guards["guard/the meta-gradient"] = metrics.pop("guard/the meta-gradient")
        return guards
