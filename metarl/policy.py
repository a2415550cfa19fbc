"""Gaussian MLP policy with a learned, state-independent log-std, run functionally on a params dict.

Every method takes `params`, a dict name -> tensor shaped like `named_parameters()`, optionally
with a leading task dimension N. With task-leading params and observations shaped [N, B, obs_dim],
one call evaluates N different policies at once (batched matmuls): the sampler's D_test rollout and
the inner loop of all tasks run this way, never as a Python loop over tasks.
"""

from __future__ import annotations

import math

import torch
from torch import nn

Params = dict[str, torch.Tensor]


def _relu(x: torch.Tensor) -> torch.Tensor:
    # Same values and (sub)gradients as torch.relu, but the mask is a constant, so every higher
    # derivative is a plain multiply. torch.relu's double backward (ThresholdBackwardBackward)
    # allocates zeros and runs threshold_backward again: ~3x slower inside TRPO's Fisher products.
    return x * (x > 0).to(x.dtype)


_ACTIVATIONS = {"relu": _relu, "tanh": torch.tanh}
_LOG_2PI = math.log(2 * math.pi)


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    if weight.dim() == 2:  # shared parameters
        return nn.functional.linear(x, weight, bias)
    # Per-task parameters: x [N, B, in], weight [N, out, in], bias [N, out].
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class GaussianMLPPolicy(nn.Module):
    """pi(a|s) = N(mu_theta(s), diag(exp(log_std))^2); mu an MLP, log_std a free parameter."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden_sizes: tuple[int, ...] | list[int] = (100, 100),
        activation: str = "relu",
        init_log_std: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = [obs_dim, *hidden_sizes, act_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))
        self.activation = _ACTIVATIONS[activation]
        self.obs_dim, self.act_dim = obs_dim, act_dim

    def params(self) -> Params:
        """The module's own parameters as a dict (leaves, requires_grad=True)."""
        return dict(self.named_parameters())

    def forward(self, params: Params, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean [..., act_dim] and log-std broadcastable to it.

        obs is [B, obs_dim] (or any leading dims) for shared params, [N, B, obs_dim] for
        per-task params.
        """
        x = obs
        last = len(self.layers) - 1
        for i in range(len(self.layers)):
            x = _linear(x, params[f"layers.{i}.weight"], params[f"layers.{i}.bias"])
            if i < last:
                x = self.activation(x)
        log_std = params["log_std"]
        if log_std.dim() == 2:  # per-task [N, act_dim] -> [N, 1, act_dim]
            log_std = log_std.unsqueeze(1)
        return x, log_std

    def log_prob(self, params: Params, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a|s), summed over action dimensions: shape obs.shape[:-1]."""
        mean, log_std = self(params, obs)
        return gaussian_log_prob(mean, log_std, actions)

    @torch.no_grad()
    def sample(
        self, params: Params, obs: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """a ~ pi(.|s). Kept outside any differentiated computation."""
        mean, log_std = self(params, obs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + log_std.exp() * noise


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    z = (x - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * _LOG_2PI).sum(-1)


def gaussian_kl(
    mean_p: torch.Tensor, log_std_p: torch.Tensor, mean_q: torch.Tensor, log_std_q: torch.Tensor
) -> torch.Tensor:
    """KL(p || q) of diagonal Gaussians, summed over the last dimension."""
    var_p, var_q = torch.exp(2 * log_std_p), torch.exp(2 * log_std_q)
    kl = log_std_q - log_std_p + (var_p + (mean_p - mean_q).pow(2)) / (2 * var_q) - 0.5
    return kl.sum(-1)


def expand_params(params: Params, num_tasks: int) -> Params:
    """Shared params -> per-task [N, ...] views, so gradients flow back to the shared ones."""
    return {k: v.unsqueeze(0).expand(num_tasks, *v.shape) for k, v in params.items()}


def is_per_task(params: Params) -> bool:
    return params["log_std"].dim() == 2
