"""The Episodes batch and the return estimators, as pure functions on time-major tensors.

Shapes: T time steps, N tasks, E episodes per task. Everything is time-major, [T, N, E, ...], and
`mask[t, n, e]` is 1 while episode (n, e) is running and 0 after it ended, so estimators can treat
every episode as length T.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Episodes:
    observations: torch.Tensor  # [T, N, E, obs_dim]
    actions: torch.Tensor  # [T, N, E, act_dim], unclipped (log-probs use these)
    rewards: torch.Tensor  # [T, N, E]
    mask: torch.Tensor  # [T, N, E], float
    advantages: torch.Tensor | None = field(default=None)  # [T, N, E], set by the learner
    successes: torch.Tensor | None = field(default=None)
    """[N, E]: 1 if info["success"] was true at some step of the episode (Meta-World's success
    metric), else 0; None for a family whose env reports no success."""

    @property
    def horizon(self) -> int:
        return self.rewards.shape[0]

    @property
    def num_tasks(self) -> int:
        return self.rewards.shape[1]

    @property
    def episodes_per_task(self) -> int:
        return self.rewards.shape[2]

    @property
    def num_steps(self) -> torch.Tensor:
        """Env steps actually taken (a tensor, so that reading it costs no host sync)."""
        return self.mask.sum()

    def episode_returns(self) -> torch.Tensor:
        """Undiscounted return of every episode: [N, E]."""
        return (self.rewards * self.mask).sum(0)

    def by_task(self, x: torch.Tensor) -> torch.Tensor:
        """[T, N, E, ...] -> [N, T*E, ...]: the layout of a batched per-task forward pass."""
        x = x.transpose(0, 1)
        return x.reshape(x.shape[0], -1, *x.shape[3:])

    def subset(self, episodes: int) -> Episodes:
        """The first `episodes` episodes of every task."""
        return Episodes(
            self.observations[:, :, :episodes],
            self.actions[:, :, :episodes],
            self.rewards[:, :, :episodes],
            self.mask[:, :, :episodes],
            None if self.advantages is None else self.advantages[:, :, :episodes],
            None if self.successes is None else self.successes[:, :episodes],
        )


def discount_matrix(horizon: int, discount: float, device=None, dtype=None) -> torch.Tensor:
    """D[t, s] = discount^(s - t) for s >= t, else 0: (D @ x)_t = sum_s discount^(s-t) x_s."""
    t = torch.arange(horizon, device=device, dtype=dtype or torch.float32)
    power = t.unsqueeze(0) - t.unsqueeze(1)
    return torch.where(power >= 0, discount ** power.clamp(min=0), torch.zeros_like(power))


def discounted_cumsum(x_t: torch.Tensor, discount: float) -> torch.Tensor:
    """y_t = sum_{s >= t} discount^(s-t) x_s along dim 0, as one matmul (no loop over time)."""
    d = discount_matrix(x_t.shape[0], discount, device=x_t.device, dtype=x_t.dtype)
    return (d @ x_t.reshape(x_t.shape[0], -1)).reshape(x_t.shape)


def discounted_returns(r_t: torch.Tensor, mask_t: torch.Tensor, gamma: float) -> torch.Tensor:
    """R_t = sum_{s >= t} gamma^(s-t) r_s m_s, zero after the episode ended. Shapes [T, ...]."""
    return discounted_cumsum(r_t * mask_t, gamma) * mask_t


def gae(
    r_t: torch.Tensor, v_t: torch.Tensor, mask_t: torch.Tensor, gamma: float, lam: float
) -> torch.Tensor:
    """Generalised advantage estimation (Schulman et al. 2016), shapes [T, ...].

    delta_t = r_t + gamma * m_{t+1} * V_{t+1} - V_t
    A_t = sum_{s >= t} (gamma * lam)^(s-t) delta_s
    The step after the last one (and after termination) has value 0.
    """
    v_next = torch.cat([v_t[1:] * mask_t[1:], torch.zeros_like(v_t[:1])])
    delta = (r_t + gamma * v_next - v_t) * mask_t
    return discounted_cumsum(delta, gamma * lam) * mask_t


def normalize_per_task(a_t: torch.Tensor, mask_t: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero-mean, unit-std advantages within each task (dim 1), over valid steps only. [T, N, E]."""
    count = mask_t.sum(dim=(0, 2), keepdim=True).clamp(min=1)
    mean = (a_t * mask_t).sum(dim=(0, 2), keepdim=True) / count
    var = ((a_t - mean).pow(2) * mask_t).sum(dim=(0, 2), keepdim=True) / count
    return (a_t - mean) / (var.sqrt() + eps) * mask_t
