"""Where a MAML-TRPO update's time goes: its phases, timed on one meta-iteration's data.

    python benchmarks/update_phases.py --env cheetah-vel --repeats 6
    METARL_MALLOC_TUNING=0 python benchmarks/update_phases.py --env cheetah-vel
    python benchmarks/update_phases.py --env cheetah-vel --double-backward
    METARL_CLOSED_FORM=0 python benchmarks/update_phases.py --env cheetah-vel

Samples one meta-iteration (configs/maml/<env>.yaml), then repeats the TRPO update on that same
data from the same parameters `--repeats` times and prints the median seconds of each phase: the
adaptation with its graph, the surrogate forward, the meta-gradient backward, the Fisher graph,
the conjugate gradient (its Fisher-vector products), and one line-search candidate. With
METARL_CLOSED_FORM=0 the Fisher-vector products use autograd's Hessian-vector products instead of
the Gaussian MLP's closed forms. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from metarl.adapt import adapt_steps
from metarl.algos.trpo import conjugate_gradient, flat_grad
from metarl.build import build
from metarl.cli import CONFIGS_DIR
from metarl.config import build_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="cheetah-vel")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[])
    parser.add_argument(
        "--double-backward",
        action="store_true",
        help="Fisher-vector products as the double backward of the KL through the adaptation "
        "(the reference form) instead of the Gauss-Newton form TRPO uses",
    )
    args = parser.parse_args()
    cfg = build_config("maml", args.env, None, ["device=cpu", *args.overrides], CONFIGS_DIR)
    run = build(cfg)
    algo = run.algo
    data = {}
    update = algo.update

    def keep(train, test, adapted):
        data.update(train=train, test=test)
        return update(train, test, adapted)

    algo.update = keep
    algo.iterate(run.family.sample_tasks(cfg.sampler.meta_batch_size, run.task_rng))
    algo.update = update
    train, test = data["train"], data["test"]
    start_params = {k: v.detach().clone() for k, v in algo.params.items()}

    def phases() -> dict[str, float]:
        with torch.no_grad():
            for k, v in algo.params.items():
                v.copy_(start_params[k])
        times, clock = {}, time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            times[name] = now - clock
            clock = now

        adapted = adapt_steps(algo.policy, algo.params, algo.update_rule(), train)
        lap("adaptation with graph")
        evaluate, fisher = algo.outer_objective(train, test, adapted)
        loss, kl = evaluate(True)
        lap("surrogate forward")
        g = flat_grad(loss, algo.trpo.params, retain_graph=True)
        lap("meta-gradient backward")
        if args.double_backward:  # the Hessian of the straight-through KL, as before fisher.py
            fraction = algo.cfg.outer.fisher_subsample
            episodes = max(1, round(fraction * test.episodes_per_task))
            old = {k: v.detach() for k, v in adapted.items()}
            fvp = algo.trpo.fisher_vector_product(
                algo.straight_through_kl(train, test, old, episodes)
            )
        else:
            fvp = algo.trpo.damped(fisher())
        lap("Fisher graph")
        conjugate_gradient(fvp, g, algo.trpo.cg_iters)
        lap(f"conjugate gradient ({algo.trpo.cg_iters} Fisher-vector products)")
        del fvp, kl
        with torch.no_grad():
            evaluate(False)
        lap("one line-search candidate")
        return times

    runs = [phases() for _ in range(args.repeats)]
    result = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
    result["all phases"] = statistics.median(sum(r.values()) for r in runs)
    print(json.dumps({k: round(v, 3) for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
