"""MLP policies run functionally on a params dict: Gaussian (Box) and categorical (Discrete).

Every method takes `params`, a dict name -> tensor shaped like `named_parameters()`, optionally
with a leading task dimension N. With task-leading params and observations shaped [N, B, obs_dim],
one call evaluates N different policies at once (batched matmuls): the sampler's D_test rollout and
the inner loop of all tasks run this way, never as a Python loop over tasks.

Both policies share one distribution API, which is all the algorithms use:

    dist = policy.distribution(params, obs)       # a tuple of tensors
    policy.log_prob_of(dist, actions)             # [...]: log pi(a|s)
    policy.kl(dist_old, dist_new)                 # [...]: KL(old || new)
    policy.sample(params, obs, generator)         # [..., action_dim] actions, outside any graph

Actions are always float tensors [..., action_dim]; a categorical action is its index in a
dimension of size 1.
"""

from __future__ import annotations

import math

import torch
from torch import nn

Params = dict[str, torch.Tensor]
Distribution = tuple[torch.Tensor, ...]

_LOG_2PI = math.log(2 * math.pi)


# torch.relu, not x * (x > 0): its double backward allocates a zero tensor, which was page-faulted
# in every time until metarl.allocator kept freed memory for reuse; since then torch.relu is the
# faster (cheetah-vel MAML-TRPO update 2.25 -> 1.85 s, point-goal iteration 0.75 -> 0.67 s).
_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}

# Per-task forward passes on the CPU take tasks in chunks of at most this many entries per
# activation (6.4 MB in float32; MLPPolicy._tasks_per_chunk says why). Measured on cheetah-vel
# (4,000 steps x 100 units per task): 4 tasks a chunk beat 3 and 5, and point-goal's 8 do no harm.
CPU_CHUNK_ELEMENTS = 1_600_000


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    if weight.dim() == 2:  # shared parameters
        return nn.functional.linear(x, weight, bias)
    # Per-task parameters: x [N, B, in], weight [N, out, in], bias [N, out].
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class MLPPolicy(nn.Module):
    """The shared body: an MLP from observations to `out_dim` outputs."""

    def __init__(
        self,
        obs_dim: int,
        out_dim: int,
        hidden_sizes: tuple[int, ...] | list[int] = (100, 100),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        sizes = [obs_dim, *hidden_sizes, out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = _ACTIVATIONS[activation]
        self.obs_dim = obs_dim

    @torch.no_grad()
    def initialise(self, scheme: str) -> None:
        """Re-initialise the MLP's layers: 'torch' leaves nn.Linear's own initialisation (Kaiming-
        uniform weights, biases uniform in +-1/sqrt(fan_in)); 'xavier' is rllab's, which the MAML
        paper's policies used (Glorot-uniform weights, zero biases).
        With zero biases the mean action at a zero observation is exactly 0: point-goal starts
        every episode at the origin, and nn.Linear's biases (up to +-0.71 in a 2-input first layer)
        give the untrained policy a drift that some seeds' meta-training never undoes."""
        if scheme == "xavier":
            for layer in self.layers:
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        elif scheme != "torch":
            raise ValueError(f"unknown init scheme {scheme!r}: 'torch' or 'xavier'")

    def params(self) -> Params:
        """The module's own parameters as a dict (leaves, requires_grad=True)."""
        return dict(self.named_parameters())

    def mlp(self, params: Params, obs: torch.Tensor) -> torch.Tensor:
        """obs [B, obs_dim] (any leading dims) for shared params, [N, B, obs_dim] per task."""
        tasks = self._tasks_per_chunk(params, obs)
        if tasks >= obs.shape[0]:
            return self._layers(params, obs)
        return torch.cat(
            [
                self._layers({k: v[i : i + tasks] for k, v in params.items()}, obs[i : i + tasks])
                for i in range(0, obs.shape[0], tasks)
            ]
        )

    def _tasks_per_chunk(self, params: Params, obs: torch.Tensor) -> int:
        """How many tasks one pass of a per-task forward takes on the CPU (all of them elsewhere).

        A cheetah-vel batch is 40 tasks x 4,000 steps: 64 MB per hidden activation, which every
        elementwise op and matmul then streams from memory. A few tasks at a time keep each
        activation in the last-level cache for the op that reads it next, in the forward and in
        every backward pass through it (autograd runs a chunk's graph as one piece): a cheetah-vel
        MAML-TRPO update 1.2-1.7 -> 1.05-1.3 s (docs/benchmarks.md). GPUs want the big batch.
        """
        if not is_per_task(params) or obs.dim() != 3 or obs.device.type != "cpu":
            return obs.shape[0]
        width = max(layer.out_features for layer in self.layers)
        return max(1, CPU_CHUNK_ELEMENTS // (obs.shape[1] * width))

    def _layers(self, params: Params, obs: torch.Tensor) -> torch.Tensor:
        x = obs
        last = len(self.layers) - 1
        for i in range(len(self.layers)):
            x = _linear(x, params[f"layers.{i}.weight"], params[f"layers.{i}.bias"])
            if i < last:
                x = self.activation(x)
        return x

    def forward(self, params: Params, obs: torch.Tensor) -> Distribution:
        return self.distribution(params, obs)

    def log_prob(self, params: Params, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a|s): shape obs.shape[:-1]."""
        return self.log_prob_of(self.distribution(params, obs), actions)

    # Implemented by each distribution.
    def distribution(self, params: Params, obs: torch.Tensor) -> Distribution:
        raise NotImplementedError

    def log_prob_of(self, dist: Distribution, actions: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def kl(self, old: Distribution, new: Distribution) -> torch.Tensor:
        raise NotImplementedError

    def sample(
        self, params: Params, obs: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        raise NotImplementedError


class GaussianMLPPolicy(MLPPolicy):
    """pi(a|s) = N(mu_theta(s), diag(exp(log_std))^2); mu an MLP, log_std a free parameter."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden_sizes: tuple[int, ...] | list[int] = (100, 100),
        activation: str = "relu",
        init_log_std: float = 0.0,
    ) -> None:
        super().__init__(obs_dim, act_dim, hidden_sizes, activation)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))
        self.act_dim = act_dim

    def distribution(self, params: Params, obs: torch.Tensor) -> Distribution:
        """(mean [..., act_dim], log_std broadcastable to it)."""
        log_std = params["log_std"]
        if log_std.dim() == 2:  # per-task [N, act_dim] -> [N, 1, act_dim]
            log_std = log_std.unsqueeze(1)
        return self.mlp(params, obs), log_std

    def log_prob_of(self, dist: Distribution, actions: torch.Tensor) -> torch.Tensor:
        return gaussian_log_prob(*dist, actions)

    def kl(self, old: Distribution, new: Distribution) -> torch.Tensor:
        return gaussian_kl(*old, *new)

    @torch.no_grad()
    def sample(
        self, params: Params, obs: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        mean, log_std = self.distribution(params, obs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + log_std.exp() * noise


class CategoricalMLPPolicy(MLPPolicy):
    """pi(a|s) = softmax(logits_theta(s)) over `num_actions` discrete actions."""

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        hidden_sizes: tuple[int, ...] | list[int] = (100, 100),
        activation: str = "relu",
    ) -> None:
        super().__init__(obs_dim, num_actions, hidden_sizes, activation)
        self.num_actions = num_actions
        self.act_dim = 1

    def distribution(self, params: Params, obs: torch.Tensor) -> Distribution:
        """(log-probabilities [..., num_actions],)."""
        return (torch.log_softmax(self.mlp(params, obs), dim=-1),)

    def log_prob_of(self, dist: Distribution, actions: torch.Tensor) -> torch.Tensor:
        return dist[0].gather(-1, actions.long()).squeeze(-1)

    def kl(self, old: Distribution, new: Distribution) -> torch.Tensor:
        return (old[0].exp() * (old[0] - new[0])).sum(-1)

    @torch.no_grad()
    def sample(
        self, params: Params, obs: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        (log_probs,) = self.distribution(params, obs)
        flat = log_probs.exp().reshape(-1, self.num_actions)
        actions = torch.multinomial(flat, 1, generator=generator)
        return actions.reshape(*log_probs.shape[:-1], 1).to(log_probs.dtype)


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
    return params["layers.0.weight"].dim() == 3


def params_dtype(params: Params) -> torch.dtype:
    return params["layers.0.weight"].dtype
