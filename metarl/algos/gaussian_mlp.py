"""Closed-form second derivatives of the Gaussian MLP policy, for MAML-TRPO's Fisher products.

The Fisher-vector product of MAML-TRPO (fisher.py) needs two kinds of Hessian-vector products:

- H t, the Hessian of the inner policy-gradient loss (adapt.pg_loss) in the per-task parameters;
- M t, the Hessian of the mean KL(old || new) in the adapted parameters, at new = old.

Autograd gets them by differentiating a backward pass (reverse over reverse). For the Gaussian MLP
they have a short closed form, written here with the network's own batched matmuls: a forward
pass of the tangent (dz_l = h_{l-1} dW_l^T + dh_{l-1} W_l^T + db_l) and a backward pass of the
gradient's tangent. Same numbers up to float rounding (tests/test_gaussian_mlp.py holds them to
autograd's in float64), fewer passes over memory:

- H t: six batched matmuls per hidden-to-hidden layer, as autograd, but about a third of its
  elementwise work (no zero tensors for the activation's second derivative, no gradient sums);
- M t: M is a Gauss-Newton matrix J_f^T diag(e^{-2 rho}, 2) J_f, because the KL's gradient in the
  policy's outputs (mean, log-std) is zero at new = old. Four matmuls per layer instead of six.

docs/benchmarks.md has the timings. Only GaussianMLPPolicy itself with a ReLU or tanh body has
this form: supports() says so, and fisher.py falls back to autograd for any other policy.
METARL_CLOSED_FORM=0 makes supports() false, so that autograd is used everywhere (to compare).
"""

from __future__ import annotations

import os

import torch

from metarl.episodes import Episodes
from metarl.policy import GaussianMLPPolicy, MLPPolicy, Params

Tensors = dict[str, torch.Tensor]


def supports(policy: MLPPolicy) -> bool:
    """True for the policies whose derivatives this module writes out: GaussianMLPPolicy itself
    (not a subclass, which may change its distribution) with a ReLU or tanh body, unless
    METARL_CLOSED_FORM is 0."""
    if os.environ.get("METARL_CLOSED_FORM", "1") == "0":
        return False
    return type(policy) is GaussianMLPPolicy and policy.activation in (torch.relu, torch.tanh)


def _rows(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x [N, B, out] times weight [N, out, in]: [N, B, in] (the backward of a layer)."""
    return torch.bmm(x, weight)


def _outer(delta: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """sum over the batch of delta [N, B, out] (x) h [N, B, in]: a weight gradient [N, out, in]."""
    return torch.bmm(delta.transpose(1, 2), h)


class _Network:
    """The body's forward pass at per-task params [N, ...] on obs [N, B, obs_dim], kept for the
    tangent passes: the layers' inputs h_l and the activation's derivative at each hidden layer."""

    def __init__(self, policy: GaussianMLPPolicy, params: Params, obs: torch.Tensor) -> None:
        self.depth = len(policy.layers)
        self.tanh = policy.activation is torch.tanh
        self.weights = [params[f"layers.{i}.weight"] for i in range(self.depth)]
        self.biases = [params[f"layers.{i}.bias"] for i in range(self.depth)]
        self.inputs = [obs]  # h_0 = obs, h_1, ..., h_{L-1}
        self.slopes = []  # the activation's derivative at each hidden layer's pre-activation
        x = obs
        for i in range(self.depth - 1):
            z = self._linear(i, x)
            if self.tanh:
                x = torch.tanh(z)
                slope = 1 - x * x
            else:
                # z * (z > 0) rather than torch.relu(z): the float mask is the derivative, kept.
                slope = (z > 0).to(z.dtype)
                x = z * slope
            self.slopes.append(slope)
            self.inputs.append(x)
        self.mean = self._linear(self.depth - 1, x)

    def _linear(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.biases[i].unsqueeze(1), x, self.weights[i].transpose(1, 2))

    def tangent(
        self, t: Tensors
    ) -> tuple[torch.Tensor, list[torch.Tensor | None], list[torch.Tensor]]:
        """Forward-mode derivative in the parameter direction t: (d mean, [dh_l], [dz_l]), with
        dh_0 = None (the observations do not move)."""
        dh: list[torch.Tensor | None] = [None]
        dz_hidden = []
        for i in range(self.depth):
            dz = torch.baddbmm(
                t[f"layers.{i}.bias"].unsqueeze(1),
                self.inputs[i],
                t[f"layers.{i}.weight"].transpose(1, 2),
            )
            if i > 0:
                dz = dz.baddbmm_(dh[i], self.weights[i].transpose(1, 2))
            if i < self.depth - 1:
                dz_hidden.append(dz)
                dh.append(dz * self.slopes[i])
        return dz, dh, dz_hidden

    def deltas(self, delta: torch.Tensor) -> list[torch.Tensor]:
        """d loss / d z_l for every layer l, given d loss / d mean = delta [N, B, act_dim]."""
        out = [delta]
        for i in range(self.depth - 1, 0, -1):
            out.append(_rows(out[-1], self.weights[i]).mul_(self.slopes[i - 1]))
        return out[::-1]

    def gradients(self, deltas: list[torch.Tensor]) -> Tensors:
        """The weight and bias gradients of every layer from its delta."""
        out = {}
        for i, delta in enumerate(deltas):
            out[f"layers.{i}.weight"] = _outer(delta, self.inputs[i])
            out[f"layers.{i}.bias"] = delta.sum(1)
        return out


def _log_std(params: Params) -> torch.Tensor:
    return params["log_std"].unsqueeze(1)  # [N, act_dim] -> [N, 1, act_dim]


class PolicyGradientHessian:
    """The inner loss of adapt.pg_loss, summed over tasks, at per-task params [N, ...]:

        L = sum_i -sum_s w_s log N(a_s; mu(s_s), e^{2 rho}),   w_s = A_s m_s / sum_s m_s.

    `gradients` are its per-task gradients (adapt.inner_gradients' numbers); hvp(t) its Hessian
    times a per-task direction t, task by task."""

    def __init__(self, policy: GaussianMLPPolicy, params: Params, episodes: Episodes) -> None:
        if episodes.advantages is None:
            raise ValueError("episodes.advantages is None: call estimate_advantages() first")
        self.names = list(params)
        obs = episodes.by_task(episodes.observations)
        mask = episodes.by_task(episodes.mask)
        weights = episodes.by_task(episodes.advantages * episodes.mask)
        weights = (weights / mask.sum(1, keepdim=True).clamp(min=1)).unsqueeze(-1)
        self.net = _Network(policy, params, obs)
        self.residual = episodes.by_task(episodes.actions) - self.net.mean  # r = a - mu
        self.weighted_precision = weights * torch.exp(-2 * _log_std(params))  # w e^{-2 rho}
        # d L / d mu = -w r e^{-2 rho}; the deltas of every layer are kept for hvp().
        self.deltas = self.net.deltas(-self.weighted_precision * self.residual)
        grads = self.net.gradients(self.deltas)
        # d L / d rho = -sum_s w (r^2 e^{-2 rho} - 1)
        grads["log_std"] = (weights - self.weighted_precision * self.residual.square()).sum(1)
        self.gradients = tuple(grads[k] for k in self.names)

    def hvp(self, t: Tensors) -> Tensors:
        net = self.net
        d_mean, dh, dz = net.tangent(t)
        d_log_std = t["log_std"].unsqueeze(1)
        r_drho = self.residual * d_log_std
        moved = d_mean + r_drho  # d mu + r d rho
        # d(-w r e^{-2 rho}) = w e^{-2 rho} (d mu + 2 r d rho)
        d_delta = self.weighted_precision * (moved + r_drho)
        out = {"log_std": (2 * self.weighted_precision * self.residual * moved).sum(1)}
        for i in range(net.depth - 1, -1, -1):
            d_weight = _outer(d_delta, net.inputs[i])
            if i > 0:
                d_weight = d_weight.baddbmm_(self.deltas[i].transpose(1, 2), dh[i])
            out[f"layers.{i}.weight"] = d_weight
            out[f"layers.{i}.bias"] = d_delta.sum(1)
            if i > 0:
                # d delta_{l-1} = (d delta_l W_l + delta_l dW_l) a'(z) + delta_l W_l a''(z) dz,
                # and for tanh a'' = -2 h a', so the last term is -2 h dz delta_{l-1}.
                d_delta = _rows(d_delta, net.weights[i]).baddbmm_(
                    self.deltas[i], t[f"layers.{i}.weight"]
                )
                d_delta.mul_(net.slopes[i - 1])
                if net.tanh:
                    d_delta.sub_(2 * net.inputs[i] * dz[i - 1] * self.deltas[i - 1])
        return {k: out[k] for k in self.names}


class KLHessian:
    """The Hessian of mean_i sum_s c_s KL(pi_old || pi_new)(s) in the new per-task params, at
    new = old = `params` (c_s = m_s / sum_s m_s / N, so it is the mean KL over valid steps and
    tasks). There the KL's gradient in the outputs is zero, so its Hessian is J_f^T D J_f:
    J_f the outputs' Jacobian, D = e^{-2 rho} for the mean and 2 for the log-std."""

    def __init__(self, policy: GaussianMLPPolicy, params: Params, episodes: Episodes) -> None:
        self.names = list(params)
        obs = episodes.by_task(episodes.observations)
        mask = episodes.by_task(episodes.mask)
        weights = mask / mask.sum(1, keepdim=True).clamp(min=1) / episodes.num_tasks
        self.net = _Network(policy, params, obs)
        self.weighted_precision = weights.unsqueeze(-1) * torch.exp(-2 * _log_std(params))
        self.log_std_curvature = 2 * weights.sum(1, keepdim=True)  # [N, 1]

    def hvp(self, t: Tensors) -> Tensors:
        d_mean, _, _ = self.net.tangent(t)
        out = self.net.gradients(self.net.deltas(self.weighted_precision * d_mean))
        out["log_std"] = self.log_std_curvature * t["log_std"]
        return {k: out[k] for k in self.names}
