"""Supervised few-shot task families: a task is a function, its data are (x, y) examples.

The family draws tasks and inputs and labels them; the network, the inner loop and the
meta-update are the ones RL uses (adapt.py), with the family's loss in place of the policy-gradient
loss. Two are built in:

- `sine`: y = A sin(x + phi), A ~ U[0.1, 5], phi ~ U[0, pi]; x ~ U[-5, 5]; MSE.
- `classify-2d`: the half-plane n . x > c, n = (cos a, sin a), a ~ U[0, 2 pi), c ~ U[-0.5, 0.5];
  x ~ U[-1, 1]^2; label 1 inside, 0 outside; logistic loss on one logit.

`sine` is the regression benchmark of MAML (Finn et al. 2017, sec. 5.1), Meta-SGD (Li et al. 2017,
sec. 4.1) and Reptile (Nichol et al. 2018); `classify-2d` is a small binary classification family
with the same shape (2-D inputs, random linear decision boundaries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class SineTask:
    amplitude: float
    phase: float


@dataclass(frozen=True)
class HalfPlaneTask:
    angle: float
    offset: float


class SupervisedFamily:
    """What a supervised family provides; `builtin` and `horizon` match TaskFamily's fields."""

    name = "base"
    input_dim = 1
    output_dim = 1
    loss = "mse"
    """'mse' (regression) or 'logistic' (binary classification on one logit)."""
    builtin = True
    horizon = None

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list:
        raise NotImplementedError

    def sample_inputs(self, n: int, count: int, generator: torch.Generator) -> torch.Tensor:
        """[n, count, input_dim] float64 inputs for n tasks, on the CPU."""
        raise NotImplementedError

    def targets(self, tasks: list, inputs: torch.Tensor) -> torch.Tensor:
        """[n, count, output_dim] float64 targets of `inputs` [n, count, input_dim]."""
        raise NotImplementedError


class SineFamily(SupervisedFamily):
    name = "sine"
    loss = "mse"
    AMPLITUDE = (0.1, 5.0)
    PHASE = (0.0, math.pi)
    INPUT = (-5.0, 5.0)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[SineTask]:
        amplitude = rng.uniform(*self.AMPLITUDE, size=n)
        phase = rng.uniform(*self.PHASE, size=n)
        return [SineTask(float(a), float(p)) for a, p in zip(amplitude, phase)]

    def sample_inputs(self, n: int, count: int, generator: torch.Generator) -> torch.Tensor:
        low, high = self.INPUT
        u = torch.rand(n, count, 1, generator=generator, dtype=torch.float64)
        return low + (high - low) * u

    def targets(self, tasks: list[SineTask], inputs: torch.Tensor) -> torch.Tensor:
        amplitude = torch.tensor([t.amplitude for t in tasks], dtype=inputs.dtype)
        phase = torch.tensor([t.phase for t in tasks], dtype=inputs.dtype)
        return amplitude.view(-1, 1, 1) * torch.sin(inputs + phase.view(-1, 1, 1))


class HalfPlaneFamily(SupervisedFamily):
    name = "classify-2d"
    input_dim = 2
    loss = "logistic"
    OFFSET = (-0.5, 0.5)

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[HalfPlaneTask]:
        angle = rng.uniform(0.0, 2 * math.pi, size=n)
        offset = rng.uniform(*self.OFFSET, size=n)
        return [HalfPlaneTask(float(a), float(c)) for a, c in zip(angle, offset)]

    def sample_inputs(self, n: int, count: int, generator: torch.Generator) -> torch.Tensor:
        return 2 * torch.rand(n, count, 2, generator=generator, dtype=torch.float64) - 1

    def targets(self, tasks: list[HalfPlaneTask], inputs: torch.Tensor) -> torch.Tensor:
        angle = torch.tensor([t.angle for t in tasks], dtype=inputs.dtype)
        offset = torch.tensor([t.offset for t in tasks], dtype=inputs.dtype)
        normal = torch.stack([torch.cos(angle), torch.sin(angle)], -1)  # [n, 2]
        side = (inputs * normal.unsqueeze(1)).sum(-1, keepdim=True) - offset.view(-1, 1, 1)
        return (side > 0).to(inputs.dtype)


FAMILIES: dict[str, type[SupervisedFamily]] = {"sine": SineFamily, "classify-2d": HalfPlaneFamily}
