"""Inner update rules: the one thing adapt() lets an algorithm choose.

Every rule here is the update of an LSTM cell whose cell state is the parameters (Ravi & Larochelle
2017, "Optimization as a model for few-shot learning", eq. 2):

    theta_t = f_t (.) theta_{t-1} + i_t (.) (-grad L(theta_{t-1}))

- FixedStep (MAML, Reptile): f = 1, i = alpha, one number.
- LearnedStep (Meta-SGD, Li et al. 2017): f = 1, i = alpha per parameter, meta-learned.
- LSTMRule (meta-lstm): f_t and i_t computed per coordinate by one small LSTM shared by every
  coordinate, from the gradient, the loss, theta_{t-1} and its previous gates, and meta-learned.

A rule maps (per-task params, their inner gradients, the per-task inner losses, its state) to the
next per-task params and state. The state is None before the first step; only the LSTM keeps one.
"""

from __future__ import annotations

import math
from typing import Any

import torch

Params = dict[str, torch.Tensor]
StepSizes = float | dict[str, torch.Tensor | float]
RuleState = Any


def step_size(step_sizes: StepSizes, name: str) -> torch.Tensor | float:
    """The inner step size of parameter `name`: its own (Meta-SGD), or the one number."""
    return step_sizes[name] if isinstance(step_sizes, dict) else step_sizes


class UpdateRule:
    """theta_t = f_t (.) theta_{t-1} - i_t (.) g_t, with the gates the subclass defines."""

    description = "base"
    step_sizes: StepSizes | None = None
    """The step sizes when the rule is theta - alpha (.) g with alpha independent of the data
    (fixed or per parameter): the form whose Jacobian fisher.py writes in Gauss-Newton form.
    None for a rule whose gates depend on the data (the LSTM)."""

    def parameters(self) -> list[torch.Tensor]:
        """The rule's meta-learned tensors (none for a fixed step)."""
        return []

    def step(
        self,
        params: Params,
        grads: tuple[torch.Tensor, ...],
        losses: torch.Tensor,
        state: RuleState,
    ) -> tuple[Params, RuleState]:
        """One inner step of per-task `params` [N, ...] given their gradients (same order) and
        the per-task inner losses [N]; `state` is None at the first step."""
        raise NotImplementedError

    def detached(self) -> UpdateRule:
        """The same rule with no graph to its parameters (sampling, Reptile, line searches)."""
        raise NotImplementedError

    def scaled(self, factor: float) -> UpdateRule:
        """The rule with its step (the input gate) multiplied by `factor` (evaluation's later
        steps: the MAML paper adapts with 0.1, then 0.05)."""
        raise NotImplementedError


class FixedStep(UpdateRule):
    """MAML's and Reptile's rule: theta - alpha g with one fixed alpha.

    Parameters named in `frozen` keep their value (step size 0): e.g. a Gaussian policy's
    log_std, so that adaptation moves the mean only while the outer update still learns sigma.
    """

    description = "fixed step"

    def __init__(self, lr: float, frozen: tuple[str, ...] | list[str] = ()) -> None:
        self.lr = lr
        self.frozen = tuple(frozen)
        self.step_sizes = lr if not self.frozen else _FrozenSteps(lr, self.frozen)

    def step(self, params, grads, losses, state):
        return {
            name: p if name in self.frozen else p - self.lr * g
            for (name, p), g in zip(params.items(), grads)
        }, None

    def detached(self) -> FixedStep:
        return self

    def scaled(self, factor: float) -> FixedStep:
        return self if factor == 1.0 else FixedStep(self.lr * factor, self.frozen)


class _FrozenSteps(dict):
    """A fixed step's sizes by parameter name: `lr`, or 0 for a frozen parameter."""

    def __init__(self, lr: float, frozen: tuple[str, ...]) -> None:
        super().__init__()
        self.lr, self.frozen = lr, frozen

    def __missing__(self, name: str) -> float:
        return 0.0 if name in self.frozen else self.lr


class LearnedStep(UpdateRule):
    """Meta-SGD's rule: theta - alpha (.) g with a step size per parameter, meta-learned."""

    description = "learned per-parameter step (Meta-SGD)"

    def __init__(self, alphas: dict[str, torch.Tensor]) -> None:
        self.alphas = alphas
        self.step_sizes = alphas

    def parameters(self) -> list[torch.Tensor]:
        return list(self.alphas.values())

    def step(self, params, grads, losses, state):
        return {
            name: p - self.alphas[name] * g for (name, p), g in zip(params.items(), grads)
        }, None

    def detached(self) -> LearnedStep:
        return LearnedStep({k: a.detach() for k, a in self.alphas.items()})

    def scaled(self, factor: float) -> LearnedStep:
        if factor == 1.0:
            return self
        return LearnedStep({k: a * factor for k, a in self.alphas.items()})


# Gradient preprocessing of Andrychowicz et al. 2016 ("Learning to learn by gradient descent by
# gradient descent", appendix A): inputs of very different scales share one network.
PREPROCESS_P = 10.0


def preprocess(x: torch.Tensor, p: float = PREPROCESS_P) -> torch.Tensor:
    """x -> (log|x| / p, sign x) where |x| >= e^-p, else (-1, e^p x): shape [..., 2]."""
    small = math.exp(-p)
    big = x.abs() >= small
    # clamp before log: the branch torch.where drops still gets a backward pass, and log's
    # derivative at 0 would turn its zero gradient into NaN.
    magnitude = torch.where(big, x.abs().clamp(min=small).log() / p, -torch.ones_like(x))
    sign = torch.where(big, torch.sign(x), x * math.exp(p))
    return torch.stack([magnitude, sign], -1)


class LSTMRule(UpdateRule):
    """The coordinate-wise LSTM meta-learner (Ravi & Larochelle 2017, sec. 3.1-3.3).

    Every coordinate of every task's parameters is one sequence; one LSTM cell (`cell.*`, hidden
    size H) reads, per coordinate, x_t = [preprocess(g_t), preprocess(L_t)] and two linear heads
    compute the gates from its hidden state, the coordinate's value and its previous gate:

        f_t = sigmoid(w_f . [h_t, theta_{t-1}, f_{t-1}] + b_f)
        i_t = sigmoid(w_i . [h_t, theta_{t-1}, i_{t-1}] + b_i)
        theta_t = f_t theta_{t-1} - i_t g_t

    The heads start at zero weights with b_f = logit(forget_init) (f close to 1) and
    b_i = logit(lr), so the untrained rule is plain gradient descent with step lr (times a decay
    of 1 - forget_init). The previous gates are 0 before the first step. The meta-gradient flows
    through everything, the gradient and loss inputs included (no first-order shortcut unless
    inner.first_order).
    """

    description = "learned LSTM rule"
    NAMES = (
        "cell.weight_ih",
        "cell.weight_hh",
        "cell.bias",
        "forget.weight",
        "forget.bias",
        "input.weight",
        "input.bias",
    )

    def __init__(self, weights: dict[str, torch.Tensor], scale: float = 1.0) -> None:
        self.weights = weights
        self.scale = scale
        self.hidden = weights["cell.weight_hh"].shape[1]

    @staticmethod
    def initial_weights(
        hidden: int,
        lr: float,
        forget_init: float,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> dict[str, torch.Tensor]:
        """The cell as torch.nn.LSTMCell initialises it (U(-1/sqrt H, 1/sqrt H), from torch's
        global generator), the heads as gradient descent with step `lr`."""
        bound = 1 / math.sqrt(hidden)

        def uniform(*shape: int) -> torch.Tensor:
            return torch.empty(*shape, dtype=dtype).uniform_(-bound, bound).to(device)

        def constant(value: float) -> torch.Tensor:
            return torch.tensor(value, dtype=dtype, device=device)

        weights = {
            "cell.weight_ih": uniform(4 * hidden, 4),
            "cell.weight_hh": uniform(4 * hidden, hidden),
            "cell.bias": uniform(4 * hidden),
            "forget.weight": torch.zeros(hidden + 2, dtype=dtype, device=device),
            "forget.bias": constant(_logit(forget_init)),
            "input.weight": torch.zeros(hidden + 2, dtype=dtype, device=device),
            "input.bias": constant(_logit(lr)),
        }
        return {k: v.requires_grad_(True) for k, v in weights.items()}

    def parameters(self) -> list[torch.Tensor]:
        return [self.weights[k] for k in self.NAMES]

    def detached(self) -> LSTMRule:
        return LSTMRule({k: v.detach() for k, v in self.weights.items()}, self.scale)

    def scaled(self, factor: float) -> LSTMRule:
        return self if factor == 1.0 else LSTMRule(self.weights, self.scale * factor)

    def gates(
        self,
        params: Params,
        grads: tuple[torch.Tensor, ...],
        losses: torch.Tensor,
        state: RuleState,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, RuleState]:
        """(theta, g, f, i, next state), each of the first four [N, P]: every coordinate of the
        flattened per-task parameters (P entries per task, in the order of `params`), its
        gradient and its gates."""
        w = self.weights
        n = losses.shape[0]
        theta = torch.cat([v.reshape(n, -1) for v in params.values()], 1)
        g = torch.cat([v.reshape(n, -1) for v in grads], 1)
        x = torch.cat(
            [preprocess(g), preprocess(losses).unsqueeze(1).expand(*g.shape, 2)], -1
        )  # [N, P, 4]
        z = torch.nn.functional.linear(x, w["cell.weight_ih"], w["cell.bias"])
        if state is not None:
            h, c, f_prev, i_prev = state
            z = z + torch.nn.functional.linear(h, w["cell.weight_hh"])
        # torch.nn.LSTMCell's gate order: input, forget, cell, output.
        z_i, z_f, z_g, z_o = z.chunk(4, -1)
        c_new = torch.sigmoid(z_i) * torch.tanh(z_g)
        if state is not None:
            c_new = c_new + torch.sigmoid(z_f) * c
            f_head = w["forget.weight"][-1] * f_prev
            i_head = w["input.weight"][-1] * i_prev
        else:
            f_head = i_head = 0.0
        h_new = torch.sigmoid(z_o) * torch.tanh(c_new)
        hid = self.hidden
        f = torch.sigmoid(
            h_new @ w["forget.weight"][:hid]
            + w["forget.weight"][hid] * theta
            + f_head
            + w["forget.bias"]
        )
        i = torch.sigmoid(
            h_new @ w["input.weight"][:hid]
            + w["input.weight"][hid] * theta
            + i_head
            + w["input.bias"]
        )
        return theta, g, f, i, (h_new, c_new, f, i)

    def step(self, params, grads, losses, state):
        theta, g, f, i, state = self.gates(params, grads, losses, state)
        flat = f * theta - (self.scale * i) * g
        return _unflatten(flat, params), state


def _logit(p: float) -> float:
    if not 0.0 < p < 1.0:
        raise ValueError(f"a sigmoid gate's initial value must be in (0, 1), got {p}")
    return math.log(p / (1 - p))


def _unflatten(flat: torch.Tensor, like: Params) -> Params:
    out, offset = {}, 0
    for name, v in like.items():
        size = v[0].numel()
        out[name] = flat[:, offset : offset + size].reshape(v.shape)
        offset += size
    return out
