"""Few-shot examples of N tasks at once, their losses, and the sampler that draws them.

Shapes: N tasks, K examples per task. `Examples` is to supervised families what `Episodes` is to
RL: the batch adapt() takes a step on and the meta-objective is measured on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from metarl.policy import MLPPolicy, params_dtype
from metarl.supervised.families import SupervisedFamily


@dataclass
class Examples:
    inputs: torch.Tensor  # [N, K, input_dim]
    targets: torch.Tensor  # [N, K, output_dim]
    loss: str  # 'mse' or 'logistic'

    @property
    def num_tasks(self) -> int:
        return self.inputs.shape[0]

    @property
    def shots(self) -> int:
        return self.inputs.shape[1]

    def losses(self, outputs: torch.Tensor) -> torch.Tensor:
        """Per-task mean loss of the network's `outputs` [N, K, output_dim]: shape [N].

        mse: mean (y - y_hat)^2; logistic: mean binary cross-entropy of the logit."""
        if self.loss == "mse":
            return (outputs - self.targets).square().mean((1, 2))
        per_example = torch.nn.functional.binary_cross_entropy_with_logits(
            outputs, self.targets, reduction="none"
        )
        return per_example.mean((1, 2))

    def accuracy(self, outputs: torch.Tensor) -> torch.Tensor:
        """Per-task fraction of examples on the right side of the logit 0: shape [N]."""
        return ((outputs > 0).to(self.targets.dtype) == self.targets).to(outputs.dtype).mean((1, 2))


class ExampleSampler:
    """Draws each task's K support examples (to adapt on) and its query examples (to measure the
    adapted network on), from its own generator (saved in checkpoints)."""

    def __init__(
        self,
        family: SupervisedFamily,
        policy: MLPPolicy,
        shots: int,
        query: int,
        device: torch.device,
        seed: int = 0,
    ) -> None:
        self.family = family
        self.policy = policy
        self.shots = shots
        self.query = query
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, tasks: list, count: int) -> Examples:
        """`count` fresh examples of each task."""
        x = self.family.sample_inputs(len(tasks), count, self.generator)
        y = self.family.targets(tasks, x)
        dtype = params_dtype(self.policy.params())
        return Examples(x.to(self.device, dtype), y.to(self.device, dtype), self.family.loss)

    def support_and_query(self, tasks: list) -> tuple[Examples, Examples]:
        return self.sample(tasks, self.shots), self.sample(tasks, self.query)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"].cpu())

    def close(self) -> None:
        pass
