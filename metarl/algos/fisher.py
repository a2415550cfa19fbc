"""The Fisher-vector product of MAML-TRPO in Gauss-Newton form, F v = J^T M J v.

TRPO's Fisher is the Hessian, with respect to the meta-parameters, of the mean KL between the
adapted policies that sampled D_test and the adapted policies at the current meta-parameters:

    F = d^2/d theta^2  KL(pi_theta'_old || pi_theta'(theta))   at theta'(theta) = theta'_old.

Its gradient with respect to theta' vanishes there, so the Hessian is exactly J^T M J: J the
Jacobian of the adaptation theta -> theta', M the Hessian of the KL in theta' (the policy's Fisher
on D_test). For one inner step theta' = theta - alpha (.) g(theta), g the inner loss's gradient
and H its Hessian,

    J v = v - alpha (.) H v  (- g (.) v_alpha for Meta-SGD),     J^T u = u - H (alpha (.) u),

and k steps chain k such factors (step s with its own step size, c_s alpha, under
inner.later_lr_scale's schedule). So a product costs two Hessian-vector products of the inner loss
per step plus one of the KL. For the Gaussian MLP policy they are written out in closed form
(gaussian_mlp.py); for any other policy each is a backward pass through a graph built once per
update. The double backward of the composed KL (trpo.TRPO.fisher_vector_product) differentiates
through the adaptation's own backward pass instead: the same numbers up to rounding
(tests/test_fisher.py), at 1.25-1.4x the cost of this form on cheetah-vel (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from metarl.adapt import inner_gradients
from metarl.algos import gaussian_mlp
from metarl.episodes import Episodes
from metarl.policy import MLPPolicy, Params, expand_params
from metarl.update_rules import StepSizes, step_size

Tensors = dict[str, torch.Tensor]


class _InnerPoint(Protocol):
    """The inner loss at one inner step's per-task params: its gradients, and H t."""

    gradients: tuple[torch.Tensor, ...]

    def hvp(self, t: Tensors) -> Tensors: ...


def _hvp(outputs: tuple[torch.Tensor, ...], leaves: Tensors, vectors: Tensors) -> Tensors:
    """(d outputs / d leaves)^T vectors through a retained graph: with outputs = grad(loss,
    leaves), the Hessian of the loss times `vectors`."""
    grads = torch.autograd.grad(
        outputs,
        list(leaves.values()),
        grad_outputs=[vectors[k] for k in leaves],
        retain_graph=True,
        allow_unused=True,
    )
    return {
        k: torch.zeros_like(leaf) if g is None else g for (k, leaf), g in zip(leaves.items(), grads)
    }


class _AutogradInner:
    """H t by double backward through the inner gradient's retained graph (any policy)."""

    def __init__(
        self, policy: MLPPolicy, params: Params, episodes: Episodes, with_hessian: bool
    ) -> None:
        self.leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.graph = inner_gradients(policy, self.leaves, episodes, create_graph=with_hessian)
        self.gradients = tuple(g.detach() for g in self.graph)

    def hvp(self, t: Tensors) -> Tensors:
        return _hvp(self.graph, self.leaves, t)


class _AutogradKL:
    """M t by double backward of the mean KL(old || new) on D_test, at new = old (any policy)."""

    def __init__(self, policy: MLPPolicy, old: Params, test: Episodes) -> None:
        obs = test.by_task(test.observations)
        mask = test.by_task(test.mask)
        count = mask.sum(1).clamp(min=1)
        with torch.no_grad():
            dist_old = policy.distribution(old, obs)
        self.leaves = {k: v.detach().requires_grad_(True) for k, v in old.items()}
        with torch.enable_grad():
            kl = policy.kl(dist_old, policy.distribution(self.leaves, obs))
            kl = ((kl * mask).sum(1) / count).mean()
            self.graph = torch.autograd.grad(kl, list(self.leaves.values()), create_graph=True)

    def hvp(self, t: Tensors) -> Tensors:
        return _hvp(self.graph, self.leaves, t)


class AdaptationFisher:
    """v -> F v for the meta-parameters (theta, then Meta-SGD's step sizes if they are learned).

    `train` are the inner steps' D_train batches, `test` D_test and `adapted_old` the per-task
    parameters that sampled it. `train` and `test` may be a subset of the episodes (TRPO's
    subsampled Fisher): the Jacobian is then the adaptation's on that subset, while M is still
    measured at adapted_old (straight-through).

    `closed_form` picks the Hessian-vector products: gaussian_mlp's closed forms (the default
    where gaussian_mlp.supports(policy)) or autograd's double backward (False; any policy).
    """

    def __init__(
        self,
        policy: MLPPolicy,
        params: Params,
        step_sizes: StepSizes,
        train: list[Episodes],
        test: Episodes,
        adapted_old: Params,
        first_order: bool = False,
        closed_form: bool | None = None,
        scales: Sequence[float] | None = None,
    ) -> None:
        self.first_order = first_order
        # Step s takes scales[s] x the step sizes (inner.later_lr_scale's schedule).
        self.scales = [1.0] * len(train) if scales is None else list(scales)
        if len(self.scales) != len(train):
            raise ValueError(f"expected {len(train)} step scales, got {len(self.scales)}")
        self.num_tasks = test.num_tasks
        self.shapes = {k: v.shape for k, v in params.items()}
        self.learned_alphas = isinstance(step_sizes, dict) and any(
            isinstance(a, torch.Tensor) and a.requires_grad for a in step_sizes.values()
        )
        if self.learned_alphas:
            step_sizes = {k: a.detach() for k, a in step_sizes.items()}
        self.step_sizes = step_sizes
        self.closed_form = gaussian_mlp.supports(policy) if closed_form is None else closed_form
        if self.closed_form and not gaussian_mlp.supports(policy):
            raise ValueError(
                f"closed_form=True needs a GaussianMLPPolicy with a ReLU or tanh body, got "
                f"{type(policy).__name__}"
            )
        # One point per inner step: the per-task params x_s there, and the inner loss's gradient
        # g_s(x_s) and Hessian H_s (closed form, or autograd through a retained graph).
        self.points: list[_InnerPoint] = []
        x = expand_params({k: v.detach() for k, v in params.items()}, self.num_tasks)
        for s, episodes in enumerate(train):
            point = self._inner_point(policy, x, episodes)
            self.points.append(point)
            x = {k: x[k] - self._alpha(k, s) * g for k, g in zip(x, point.gradients)}
        # M: the Hessian of the mean KL on D_test in the adapted parameters, at adapted_old.
        old = {k: v.detach() for k, v in adapted_old.items()}
        if self.closed_form:
            self.kl = gaussian_mlp.KLHessian(policy, old, test)
        else:
            self.kl = _AutogradKL(policy, old, test)

    def _inner_point(self, policy: MLPPolicy, x: Params, episodes: Episodes) -> _InnerPoint:
        if self.closed_form:
            return gaussian_mlp.PolicyGradientHessian(policy, x, episodes)
        return _AutogradInner(policy, x, episodes, with_hessian=not self.first_order)

    def _alpha(self, name: str, step: int) -> torch.Tensor | float:
        return self.scales[step] * step_size(self.step_sizes, name)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._product(v)

    def _product(self, v: torch.Tensor) -> torch.Tensor:
        v_theta, v_alpha = self._split(v)
        # J v, step by step: t_{s+1} = t_s - alpha (.) H_s t_s - g_s (.) v_alpha.
        t = {k: u.expand(self.num_tasks, *u.shape) for k, u in v_theta.items()}
        for s, point in enumerate(self.points):
            ht = None if self.first_order else point.hvp(t)
            new = {}
            for k, g in zip(t, point.gradients):
                new[k] = t[k] if ht is None else t[k] - self._alpha(k, s) * ht[k]
                if v_alpha is not None:
                    new[k] = new[k] - self.scales[s] * g * v_alpha[k]
            t = new
        u = self.kl.hvp(t)  # M J v
        # J^T u, back through the steps: u_s = u_{s+1} - H_s (alpha (.) u_{s+1}); the step sizes
        # collect -sum over tasks of g_s (.) u_{s+1}.
        d_alpha = {k: v.new_zeros(shape) for k, shape in self.shapes.items()}
        for s in reversed(range(len(self.points))):
            point = self.points[s]
            if v_alpha is not None:
                for k, g in zip(u, point.gradients):
                    d_alpha[k] = d_alpha[k] - self.scales[s] * (g * u[k]).sum(0)
            if not self.first_order:
                hu = point.hvp({k: self._alpha(k, s) * u[k] for k in u})
                u = {k: u[k] - hu[k] for k in u}
        parts = [u[k].sum(0).reshape(-1) for k in self.shapes]  # expand's adjoint: sum over tasks
        if v_alpha is not None:
            parts += [d_alpha[k].reshape(-1) for k in self.shapes]
        return torch.cat(parts)

    def _split(self, v: torch.Tensor) -> tuple[Tensors, Tensors | None]:
        copies = 2 if self.learned_alphas else 1
        size = copies * sum(shape.numel() for shape in self.shapes.values())
        if v.shape != (size,):
            raise ValueError(
                f"expected a flat vector of {size} meta-parameter entries, got shape "
                f"{tuple(v.shape)}"
            )
        pieces, offset = [], 0
        for _ in range(copies):
            piece = {}
            for k, shape in self.shapes.items():
                piece[k] = v[offset : offset + shape.numel()].view(shape)
                offset += shape.numel()
            pieces.append(piece)
        return pieces[0], pieces[1] if self.learned_alphas else None
