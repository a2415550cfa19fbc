"""meta-lstm: MAML whose inner update is a learned LSTM rule (Ravi & Larochelle 2017).

    theta'_i = f (.) theta - i (.) grad L_i(theta),   f, i = LSTM(grad, loss, theta, previous gates)

One small LSTM, shared by every coordinate of every task (update_rules.LSTMRule), computes the
forget gate f and the input gate i; it starts as gradient descent with step inner.lr (f close to
1, i = inner.lr) and is meta-trained with theta by the same outer update (TRPO or Adam) through
the adaptation. The gates depend on the data, so TRPO's Fisher-vector products take the double
backward of the KL through the adaptation (maml.py) instead of fisher.py's Gauss-Newton form.
"""

from __future__ import annotations

import torch

from metarl.adapt import Batch, inner_loss_and_gradients
from metarl.algos.maml import MAML
from metarl.policy import MLPPolicy, Params, expand_params, params_dtype
from metarl.sampler import Sampler
from metarl.supervised import ExampleSampler
from metarl.update_rules import LSTMRule


class MetaLSTM(MAML):
    name = "meta-lstm"

    def __init__(self, policy: MLPPolicy, sampler: Sampler | ExampleSampler, cfg) -> None:
        params = policy.params()
        weights = LSTMRule.initial_weights(
            cfg.inner.lstm_hidden_size,
            cfg.inner.lr,
            cfg.inner.lstm_forget_init,
            dtype=params_dtype(params),
            device=params["layers.0.weight"].device,
        )
        self.rule = LSTMRule(weights)
        super().__init__(policy, sampler, cfg)

    def update_rule(self) -> LSTMRule:
        return self.rule

    def update(self, train: list[Batch], test: Batch, adapted: Params) -> dict[str, torch.Tensor]:
        gates = self.gate_statistics(train[0])  # the gates the first inner step applied
        metrics = super().update(train, test, adapted)
        return {**metrics, **gates}

    def gate_statistics(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Mean forget and input gate of the first inner step on `batch` at the current theta,
        over all tasks and coordinates and per parameter tensor (layer), like Meta-SGD's step
        sizes."""
        shared = {k: v.detach() for k, v in self.params.items()}
        params = {
            k: v.clone().requires_grad_(True)
            for k, v in expand_params(shared, batch.num_tasks).items()
        }
        losses, grads = inner_loss_and_gradients(self.policy, params, batch, create_graph=False)
        with torch.no_grad():
            _, _, f, i, _ = self.rule.gates(params, grads, losses.detach(), None)
        metrics = {
            "meta_lstm/forget_mean": f.mean(),
            "meta_lstm/forget_min": f.min(),
            "meta_lstm/input_mean": i.mean(),
            "meta_lstm/input_max": i.max(),
        }
        offset = 0
        for name, v in self.params.items():
            size = v.numel()
            metrics[f"meta_lstm/forget_mean/{name}"] = f[:, offset : offset + size].mean()
            metrics[f"meta_lstm/input_mean/{name}"] = i[:, offset : offset + size].mean()
            offset += size
        return metrics

    def extra_state(self) -> dict:
        return {
            **super().extra_state(),
            "update_rule": {k: v.detach() for k, v in self.rule.weights.items()},
        }

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        with torch.no_grad():
            for k, v in state["update_rule"].items():
                self.rule.weights[k].copy_(v)
