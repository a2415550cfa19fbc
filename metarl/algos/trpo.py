"""TRPO (Schulman et al. 2015), the MAML paper's outer optimiser, over a list of meta-parameters.

The caller provides `evaluate(track)`: the surrogate loss and the mean KL(pi_old || pi_new) of the
*adapted* policies at the current meta-parameter values, with the graph through the adaptation when
`track` is true. The Fisher-vector product is the Hessian of that KL (double backward through the
adaptation), or one the caller builds (MAML's Gauss-Newton form, fisher.py); conjugate gradient
solves F x = g; a backtracking line search enforces the trust region.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Evaluate = Callable[[bool], tuple[torch.Tensor, torch.Tensor]]
Product = Callable[[torch.Tensor], torch.Tensor]


def flat_grad(
    output: torch.Tensor,
    params: list[torch.Tensor],
    create_graph: bool = False,
    retain_graph: bool = False,
) -> torch.Tensor:
    grads = torch.autograd.grad(
        output,
        params,
        create_graph=create_graph,
        retain_graph=retain_graph or create_graph,
        allow_unused=True,
    )
    return torch.cat(
        [(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads)]
    )


def conjugate_gradient(
    fvp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Approximately solves F x = b in `iters` iterations, with no host synchronisation.

    Returns x and the residual r = b - F x (kept by the recursion, so F x = b - r costs nothing).
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rdotr = r @ r
    tiny = torch.finfo(b.dtype).tiny
    for _ in range(iters):
        fp = fvp(p)
        # where() instead of an early break: a converged residual gives alpha = beta = 0.
        alpha = rdotr / (p @ fp).clamp(min=tiny)
        x = x + alpha * p
        r = r - alpha * fp
        new_rdotr = r @ r
        beta = new_rdotr / rdotr.clamp(min=tiny)
        p = r + beta * p
        rdotr = new_rdotr
    return x, r


def hessian_vector_product(output: torch.Tensor, params: list[torch.Tensor]) -> Product:
    """v -> (Hessian of `output` in `params`) v by double backward, reusing one first-order
    graph of its gradient."""
    grad = flat_grad(output, params, create_graph=True)

    def product(v: torch.Tensor) -> torch.Tensor:
        return flat_grad(grad @ v, params, retain_graph=True)

    return product


def get_flat(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


@torch.no_grad()
def set_flat(params: list[torch.Tensor], flat: torch.Tensor) -> None:
    offset = 0
    for p in params:
        n = p.numel()
        p.copy_(flat[offset : offset + n].view_as(p))
        offset += n


class TRPO:
    def __init__(
        self,
        params: list[torch.Tensor],
        max_kl: float = 0.01,
        cg_iters: int = 10,
        cg_damping: float = 1e-5,
        ls_max_steps: int = 15,
        ls_backtrack_ratio: float = 0.8,
    ) -> None:
        self.params = params
        self.max_kl = max_kl
        self.cg_iters = cg_iters
        self.cg_damping = cg_damping
        self.ls_max_steps = ls_max_steps
        self.ls_backtrack_ratio = ls_backtrack_ratio

    def fisher_vector_product(self, kl: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """v -> (Hessian of kl) v + damping v, reusing one first-order graph of grad(kl)."""
        return self.damped(hessian_vector_product(kl, self.params))

    def damped(self, product: Product) -> Product:
        """v -> product(v) + damping v."""
        return lambda v: product(v) + self.cg_damping * v

    def step(
        self, evaluate: Evaluate, fisher: Callable[[], Product] | None = None
    ) -> dict[str, torch.Tensor]:
        """One TRPO update of self.params in place; returns diagnostics (tensors, not synced).

        `fisher`, if given, builds the Fisher-vector product v -> F v (without damping; e.g. on a
        subsample, or in Gauss-Newton form); by default it is the Hessian of the KL of
        `evaluate(True)`, by double backward.
        """
        loss, kl = evaluate(True)
        g = flat_grad(loss, self.params, retain_graph=fisher is None)
        fvp = self.fisher_vector_product(kl) if fisher is None else self.damped(fisher())
        step_dir, residual = conjugate_gradient(fvp, g, self.cg_iters)
        # Largest step along F^-1 g whose quadratic KL model, 0.5 x^T F x, equals max_kl.
        # F x = g - r from CG's own recursion: one Fisher-vector product fewer than computing it.
        shs = 0.5 * (step_dir @ (g - residual))
        full_step = step_dir * torch.sqrt(self.max_kl / shs.clamp(min=1e-12))
        del fvp, kl  # free the Fisher's graphs before the line search
        old = get_flat(self.params)
        loss_old = loss.detach()
        # Backtracking line search: accept the first step that improves the surrogate within the
        # trust region. Each test reads two scalars on the host; that is inherent to a line search.
        fraction = 1.0
        for i in range(self.ls_max_steps):
            set_flat(self.params, old - fraction * full_step)
            with torch.no_grad():
                loss_new, kl_new = evaluate(False)
            if bool((loss_new < loss_old) & (kl_new <= self.max_kl)):
                return {
                    "loss_before": loss_old,
                    "loss_after": loss_new,
                    "kl": kl_new,
                    "step_fraction": torch.tensor(fraction),
                    "linesearch_steps": torch.tensor(float(i + 1)),
                    "accepted": torch.tensor(1.0),
                    "grad_norm": g.norm(),
                }
            fraction *= self.ls_backtrack_ratio
        set_flat(self.params, old)  # no acceptable step: keep the old parameters
        return {
            "loss_before": loss_old,
            "loss_after": loss_old,
            "kl": torch.zeros(()),
            "step_fraction": torch.tensor(0.0),
            "linesearch_steps": torch.tensor(float(self.ls_max_steps)),
            "accepted": torch.tensor(0.0),
            "grad_norm": g.norm(),
        }
