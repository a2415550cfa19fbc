"""Reptile (Nichol et al. 2018) with policy-gradient inner steps.

    theta'_i = k first-order inner steps from theta on task i (fresh trajectories per step)
    theta   <- theta + epsilon * mean_i (theta'_i - theta)        ('sgd'; or Adam on -mean delta)

No graph through the adaptation is ever built; D_test only measures the adapted policies.
"""

from __future__ import annotations

import torch

from metarl.adapt import Batch
from metarl.algos.base import MetaLearner
from metarl.errors import ConfigError
from metarl.policy import MLPPolicy, Params
from metarl.sampler import Sampler
from metarl.supervised import ExampleSampler


class Reptile(MetaLearner):
    name = "reptile"

    def __init__(self, policy: MLPPolicy, sampler: Sampler | ExampleSampler, cfg) -> None:
        super().__init__(policy, sampler, cfg)
        if cfg.inner.loss_steps != "last":
            raise ConfigError(
                f"inner.loss_steps {cfg.inner.loss_steps!r} chooses a meta-loss, but Reptile has "
                f"none (it moves theta towards the adapted parameters). Leave it at 'last'."
            )
        self.adam = (
            torch.optim.Adam(self.meta_parameters(), lr=cfg.outer.lr)
            if cfg.outer.optimizer == "adam"
            else None
        )

    @torch.no_grad()
    def update(self, train: list[Batch], test: Batch, adapted: Params) -> dict[str, torch.Tensor]:
        deltas = {k: adapted[k].mean(0) - p for k, p in self.params.items()}
        if self.adam is None:
            for k, p in self.params.items():
                p.add_(self.cfg.outer.lr * deltas[k])
        else:
            for k, p in self.params.items():
                p.grad = -deltas[k]  # the pseudo-gradient
            self.adam.step()
        norm = torch.linalg.vector_norm(torch.cat([d.reshape(-1) for d in deltas.values()]))
        return {"update/reptile_delta_norm": norm}

    def extra_state(self) -> dict:
        return {"adam": self.adam.state_dict()} if self.adam is not None else {}

    def load_extra_state(self, state: dict) -> None:
        if self.adam is not None and "adam" in state:
            self.adam.load_state_dict(state["adam"])
