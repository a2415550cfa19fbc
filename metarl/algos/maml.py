"""MAML (Finn et al. 2017): meta-update theta through the adaptation, with TRPO or Adam.

    minimise  sum_i L^TRPO(theta'_i(theta); D_test_i),   theta'_i = adapt(theta, rule, D_train_i)

(on a supervised family, Adam on sum_i L(theta'_i; query_i), the family's loss). Second order by
default (gradients flow through the inner gradient); `inner.first_order` drops that term
(FOMAML). Meta-SGD (meta_sgd.py) and meta-lstm (meta_lstm.py) are this class with a learned
update rule, whose parameters the outer update changes together with theta.
"""

from __future__ import annotations

import torch

from metarl.adapt import Batch, adapt_path, adapt_steps, inner_loss, step_scales
from metarl.algos.base import MetaLearner
from metarl.algos.fisher import AdaptationFisher
from metarl.algos.trpo import TRPO, Product, hessian_vector_product
from metarl.episodes import Episodes
from metarl.errors import ConfigError
from metarl.policy import MLPPolicy, Params
from metarl.sampler import Sampler
from metarl.supervised import ExampleSampler


class MAML(MetaLearner):
    name = "maml"
    keeps_adaptation_graph = True

    def __init__(self, policy: MLPPolicy, sampler: Sampler | ExampleSampler, cfg) -> None:
        super().__init__(policy, sampler, cfg)
        if self.supervised and cfg.outer.optimizer == "trpo":
            raise ConfigError(
                f"outer.optimizer 'trpo' needs a policy (its KL is the trust region), but "
                f"'{cfg.env.name}' is a supervised family. Use --set outer.optimizer=adam "
                f"(configs/{cfg.algo}/{cfg.env.name}.yaml does)."
            )
        self._build_optimizer()

    def _build_optimizer(self) -> None:
        outer = self.cfg.outer
        if outer.optimizer == "trpo":
            self.trpo = TRPO(
                self.meta_parameters(),
                outer.max_kl,
                outer.cg_iters,
                outer.cg_damping,
                outer.ls_max_steps,
                outer.ls_backtrack_ratio,
            )
            self.adam = None
        else:
            self.trpo = None
            rule = self.update_rule().parameters()
            if outer.rule_lr is None or not rule:
                self.adam = torch.optim.Adam(self.meta_parameters(), lr=outer.lr)
            else:  # the rule's parameters live on another scale (the LSTM's gate logits)
                groups = [
                    {"params": list(self.params.values())},
                    {"params": rule, "lr": outer.rule_lr},
                ]
                self.adam = torch.optim.Adam(groups, lr=outer.lr)

    def outer_objective(self, train: list[Episodes], test: Episodes, adapted: Params | None = None):
        """Returns (evaluate, fisher) for TRPO / Adam.

        evaluate(track) -> (surrogate loss, mean KL(old || new)) on all of D_test. 'old' is the
        adapted policy at the current meta-parameters, i.e. the one that sampled D_test, so the
        first call has ratio 1 and KL 0. `adapted`, if given, is that adaptation with its graph
        (from the sampling phase); the first tracked call uses it instead of recomputing it.

        With `inner.loss_steps: all` (MAML++'s multi-step loss, Antoniou et al. 2019) both are
        means over the inner steps j = 1..k: the policy after step j on D_j, the episodes it
        sampled (D_train of step j + 1, or D_test for j = k). Its Fisher is then the mean of the
        steps' Fishers. (The sampling phase keeps only the last step's graph, so this loss
        recomputes the adaptation.)

        fisher() -> the Fisher-vector product TRPO uses (fisher.py, Gauss-Newton form), on the
        first `outer.fisher_subsample` fraction of every task's episodes (rllab's
        `subsample_factor`): the Jacobian of the adaptation on that subset of D_train, the policy's
        Fisher on that subset of D_test, measured at the adapted policies that sampled D_test (the
        full-batch adaptation). Call it after evaluate(True).
        """
        inner = self.cfg.inner
        scales = step_scales(inner, len(train))
        data = [*train[1:], test]  # data[j]: the episodes the policy after step j + 1 sampled
        steps = range(len(train)) if inner.loss_steps == "all" else [len(train) - 1]
        terms = []
        for j in steps:
            episodes = data[j]
            mask = episodes.by_task(episodes.mask)
            terms.append(
                {
                    "obs": episodes.by_task(episodes.observations),
                    "actions": episodes.by_task(episodes.actions),
                    "weights": episodes.by_task(episodes.advantages * episodes.mask),
                    "mask": mask,
                    "count": mask.sum(1).clamp(min=1),
                }
            )
        old: list[dict[str, torch.Tensor]] = [{} for _ in terms]
        reuse = adapted is not None and inner.loss_steps == "last"
        reusable = {"adapted": adapted} if reuse else {}

        def evaluate(track: bool) -> tuple[torch.Tensor, torch.Tensor]:
            if track and reusable:
                path = [reusable.pop("adapted")]
            else:
                params = self.params if track else {k: v.detach() for k, v in self.params.items()}
                path = adapt_path(
                    self.policy, params, self.update_rule(), train, inner.first_order, scales
                )
                path = [path[j] for j in steps]
            losses, kls = [], []
            for term, before, params in zip(terms, old, path):
                dist = self.policy.distribution(params, term["obs"])
                if not before:
                    before["dist"] = tuple(t.detach() for t in dist)
                    before["log_prob"] = self.policy.log_prob_of(before["dist"], term["actions"])
                    before["adapted"] = {k: v.detach() for k, v in params.items()}
                log_ratio = self.policy.log_prob_of(dist, term["actions"]) - before["log_prob"]
                weighted = torch.exp(log_ratio) * term["weights"]
                losses.append((-weighted.sum(1) / term["count"]).mean())
                kl = self.policy.kl(before["dist"], dist)
                kls.append(((kl * term["mask"]).sum(1) / term["count"]).mean())
            return torch.stack(losses).mean(), torch.stack(kls).mean()

        def fisher() -> Product:
            products = [
                self._step_fisher(train[: j + 1], data[j], before["adapted"])
                for j, before in zip(steps, old)
            ]
            if len(products) == 1:
                return products[0]
            return lambda v: sum(product(v) for product in products) / len(products)

        return evaluate, fisher

    def _step_fisher(self, train: list[Episodes], test: Episodes, adapted_old: Params) -> Product:
        """The Fisher-vector product of one loss term: the policy after len(train) inner steps,
        measured on `test`, the episodes it sampled (see outer_objective)."""
        inner = self.cfg.inner
        episodes = max(1, round(self.cfg.outer.fisher_subsample * test.episodes_per_task))
        step_sizes = self.update_rule().step_sizes
        if step_sizes is None:  # no Gauss-Newton form of this rule's Jacobian: the definition
            kl = self.straight_through_kl(train, test, adapted_old, episodes)
            return hessian_vector_product(kl, self.meta_parameters())
        return AdaptationFisher(
            self.policy,
            self.params,
            step_sizes,
            [b.subset(episodes) for b in train],
            test.subset(episodes),
            adapted_old,
            inner.first_order,
            scales=step_scales(inner, len(train)),
        )

    def straight_through_kl(
        self, train: list[Episodes], test: Episodes, adapted_old: Params, episodes: int
    ) -> torch.Tensor:
        """The subsampled Fisher's definition: its Hessian. Mean KL(old || new) on the first
        `episodes` episodes of every task, where the new adapted params have the value of
        `adapted_old` (the full-batch adaptation) and the Jacobian of the adaptation on the subset.
        fisher() gives the same products without differentiating through the adaptation's
        backward pass; tests/test_fisher.py and `benchmarks/update_phases.py --double-backward`
        use this form."""
        sub_train = [b.subset(episodes) for b in train]
        sub_test = test.subset(episodes)
        sub = adapt_steps(
            self.policy,
            self.params,
            self.update_rule(),
            sub_train,
            self.cfg.inner.first_order,
            step_scales(self.cfg.inner, len(train)),
        )
        adapted = {k: adapted_old[k] + (v - v.detach()) for k, v in sub.items()}
        obs = sub_test.by_task(sub_test.observations)
        mask = sub_test.by_task(sub_test.mask)
        dist_old = self.policy.distribution(adapted_old, obs)
        kl = self.policy.kl(dist_old, self.policy.distribution(adapted, obs))
        return ((kl * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()

    def update(self, train: list[Batch], test: Batch, adapted: Params) -> dict[str, torch.Tensor]:
        if self.supervised:  # Adam on the adapted networks' loss on the query examples
            return self._adam_step(inner_loss(self.policy, adapted, test).mean())
        evaluate, fisher = self.outer_objective(train, test, adapted)
        if self.trpo is not None:
            stats = self.trpo.step(evaluate, fisher)
            return {
                "update/outer_surrogate": stats["loss_before"],
                "update/outer_surrogate_after": stats["loss_after"],
                "trpo/kl": stats["kl"],
                "trpo/step_fraction": stats["step_fraction"],
                "trpo/linesearch_steps": stats["linesearch_steps"],
                "trpo/accepted": stats["accepted"],
                "trpo/grad_norm": stats["grad_norm"],
                "guard/the meta-gradient": stats["grad_norm"].isfinite(),
            }
        loss, kl = evaluate(True)
        return self._adam_step(loss)

    def _adam_step(self, loss: torch.Tensor) -> dict[str, torch.Tensor]:
        self.adam.zero_grad()
        loss.backward()
        grad_norm = torch.linalg.vector_norm(
            torch.cat([p.grad.reshape(-1) for p in self.meta_parameters() if p.grad is not None])
        )
        finite = grad_norm.isfinite()
        self.adam.step()
        return {
            "update/outer_surrogate": loss.detach(),
            "update/grad_norm": grad_norm,
            "guard/the meta-gradient": finite,
        }

    def extra_state(self) -> dict:
        return {"adam": self.adam.state_dict()} if self.adam is not None else {}

    def load_extra_state(self, state: dict) -> None:
        if self.adam is not None and "adam" in state:
            self.adam.load_state_dict(state["adam"])
