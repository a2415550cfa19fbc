"""Meta-SGD (Li et al. 2017): MAML whose inner step sizes are per-parameter and meta-learned.

theta'_i = theta - alpha (.) grad L_i(theta),   alpha initialised to inner.lr, updated with theta
"""

from __future__ import annotations

import torch

from metarl.adapt import Batch
from metarl.algos.maml import MAML
from metarl.policy import MLPPolicy, Params
from metarl.sampler import Sampler
from metarl.supervised import ExampleSampler
from metarl.update_rules import LearnedStep


class MetaSGD(MAML):
    name = "meta-sgd"

    def __init__(self, policy: MLPPolicy, sampler: Sampler | ExampleSampler, cfg) -> None:
        params = policy.params()
        self.alphas = {
            k: torch.full_like(v, cfg.inner.lr).requires_grad_(True) for k, v in params.items()
        }
        super().__init__(policy, sampler, cfg)

    def update_rule(self) -> LearnedStep:
        return LearnedStep(self.alphas)

    def update(self, train: list[Batch], test: Batch, adapted: Params) -> dict[str, torch.Tensor]:
        metrics = super().update(train, test, adapted)
        clamp = self.cfg.inner.step_size_clamp
        if clamp is not None:
            with torch.no_grad():
                for alpha in self.alphas.values():
                    alpha.clamp_(clamp[0], clamp[1])
        flat = torch.cat([a.detach().reshape(-1) for a in self.alphas.values()])
        metrics["step_size/mean"] = flat.mean()
        metrics["step_size/min"] = flat.min()
        metrics["step_size/max"] = flat.max()
        metrics["step_size/negative_fraction"] = (flat < 0).float().mean()
        return metrics

    def extra_state(self) -> dict:
        return {
            **super().extra_state(),
            "step_sizes": {k: v.detach() for k, v in self.alphas.items()},
        }

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        with torch.no_grad():
            for k, v in state["step_sizes"].items():
                self.alphas[k].copy_(v)
