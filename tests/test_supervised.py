"""Supervised few-shot families (sine, classify-2d) through the same adapt(), learners,
checkpoints and evaluation as RL: the protocol, the batched inner loop, short real training runs,
resume and the evaluation's outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from metarl.adapt import adapt, inner_loss
from metarl.algos.base import MetaLearner
from metarl.build import build, build_policy
from metarl.cli import CONFIGS_DIR
from metarl.config import build_config
from metarl.errors import ConfigError
from metarl.evaluate_supervised import evaluate_supervised, headline
from metarl.policy import MLPPolicy
from metarl.supervised import Examples, make_family
from metarl.trainer import load_for_resume, train
from metarl.update_rules import FixedStep
from tests.test_resume import scalars

F64 = torch.float64


def test_sine_tasks_and_examples_follow_the_protocol():
    family = make_family("sine")
    tasks = family.sample_tasks(2000, np.random.default_rng(0))
    amplitude = np.array([t.amplitude for t in tasks])
    phase = np.array([t.phase for t in tasks])
    assert amplitude.min() >= 0.1 and amplitude.max() <= 5.0 and amplitude.std() > 1.2
    assert phase.min() >= 0.0 and phase.max() <= math.pi and phase.std() > 0.8
    x = family.sample_inputs(3, 500, torch.Generator().manual_seed(0))
    assert x.shape == (3, 500, 1) and x.min() >= -5 and x.max() <= 5 and x.std() > 2.5
    y = family.targets(tasks[:3], x)
    expected = [t.amplitude * np.sin(x[i].numpy() + t.phase) for i, t in enumerate(tasks[:3])]
    np.testing.assert_allclose(y.numpy(), np.stack(expected), rtol=1e-12)


def test_classify_2d_labels_are_half_planes_with_both_classes():
    family = make_family("classify-2d")
    tasks = family.sample_tasks(50, np.random.default_rng(0))
    x = family.sample_inputs(50, 200, torch.Generator().manual_seed(0))
    y = family.targets(tasks, x)
    assert set(y.unique().tolist()) == {0.0, 1.0}
    share = y.mean((1, 2))
    assert share.min() > 0.1 and share.max() < 0.9  # |offset| <= 0.5 inside [-1, 1]^2
    t = tasks[7]
    inside = np.cos(t.angle) * x[7, :, 0] + np.sin(t.angle) * x[7, :, 1] > t.offset
    assert torch.equal(y[7, :, 0], inside.to(F64))


def test_unknown_supervised_family_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="Valid choices: classify-2d, sine"):
        make_family("sin")


@pytest.mark.parametrize("name", ["sine", "classify-2d"])
def test_batched_adapt_on_examples_equals_a_per_task_loop(name):
    """One inner step on the family's loss for all tasks at once equals each task's own step,
    and the meta-gradient of the query loss through it equals the loop's."""
    family = make_family(name)
    torch.manual_seed(0)
    policy = MLPPolicy(family.input_dim, 1, [8, 8]).to(F64)
    params = policy.params()
    tasks = family.sample_tasks(4, np.random.default_rng(1))
    gen = torch.Generator().manual_seed(2)

    def examples(count):
        x = family.sample_inputs(4, count, gen)
        return Examples(x, family.targets(tasks, x), family.loss)

    support, query = examples(5), examples(7)
    adapted = adapt(policy, params, FixedStep(0.3), support)
    loss = inner_loss(policy, adapted, query).sum()
    grads = torch.autograd.grad(loss, list(params.values()))
    loop_loss = 0
    for i in range(4):
        one = Examples(support.inputs[i : i + 1], support.targets[i : i + 1], family.loss)
        g = torch.autograd.grad(
            inner_loss(policy, params, one).sum(), list(params.values()), create_graph=True
        )
        theta_i = {k: p - 0.3 * gi for (k, p), gi in zip(params.items(), g)}
        for k in params:
            torch.testing.assert_close(adapted[k][i], theta_i[k], rtol=1e-12, atol=1e-12)
        q = Examples(query.inputs[i : i + 1], query.targets[i : i + 1], family.loss)
        loop_loss = (
            loop_loss + inner_loss(policy, {k: v.unsqueeze(0) for k, v in theta_i.items()}, q).sum()
        )
    torch.testing.assert_close(loss, loop_loss)
    for a, b in zip(grads, torch.autograd.grad(loop_loss, list(params.values()))):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


SHORT = ["device=cpu", "eval.num_tasks=100", "supervised.eval_shots=[10]", "eval.steps=1"]


# Measured on the 2-core machine (held-out 10-shot MSE after one step, untrained -> 800
# iterations): maml 3.46 -> 1.32, meta-sgd 3.46 -> 0.43, meta-lstm 3.46 -> 1.18,
# reptile 3.46 -> 1.59.
@pytest.mark.parametrize("algo", ["maml", "meta-sgd", "meta-lstm", "reptile"])
def test_a_short_run_makes_one_step_on_ten_sine_examples_work(algo, tmp_path):
    cfg = build_config(
        algo, "sine", None, [*SHORT, "iterations=800", f"log.root={tmp_path}"], CONFIGS_DIR
    )
    run_dir = train(cfg)
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    trained = headline(result, 10)["mean"][1]
    # The untrained network, adapted by plain gradient descent with the config's inner lr.
    untrained_run = build(cfg)
    untrained = evaluate_supervised(
        untrained_run.family,
        untrained_run.policy,
        untrained_run.policy.params(),
        FixedStep(cfg.inner.lr),
        cfg,
        100,
        1,
    )
    before = headline(untrained, 10)["mean"][1]
    assert trained < 0.6 * before, (
        f"{algo}: 10-shot MSE after one step {before:.2f} -> {trained:.2f}"
    )


def test_classification_learns_and_reports_accuracy(tmp_path):
    overrides = [*SHORT, "iterations=300", "inner.lr=0.1", f"log.root={tmp_path}"]
    cfg = build_config("meta-sgd", "classify-2d", None, overrides, CONFIGS_DIR)
    result = json.loads((train(cfg) / "eval" / "adaptation.json").read_text())
    assert result["metric"] == "accuracy"
    before, after = headline(result, 10)["mean"]
    assert after > before + 0.1 and after > 0.75, (before, after)


def test_trpo_is_refused_for_a_supervised_family(tmp_path):
    cfg = build_config("maml", "sine", None, ["outer.optimizer=trpo"], CONFIGS_DIR)
    with pytest.raises(ConfigError, match=r"'trpo' needs a policy.*outer.optimizer=adam"):
        build(cfg)


def test_a_killed_supervised_run_resumes_exactly(tmp_path, monkeypatch):
    """The example sampler's generator and the LSTM rule's weights are in the checkpoint."""
    common = ["iterations=6", "log.checkpoint_every=2", "eval.at_end=false", "log.print_every=6"]

    def cfg(root):
        return build_config("meta-lstm", "sine", None, [*common, f"log.root={root}"], CONFIGS_DIR)

    reference = scalars(train(cfg(tmp_path / "ref")))
    assert "meta_lstm/input_mean" in reference and "supervised/loss_post_adapt" in reference
    original = MetaLearner.iterate
    calls = {"n": 0}

    def dies_in_iteration_6(self, tasks):
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("simulated kill -9")
        return original(self, tasks)

    monkeypatch.setattr(MetaLearner, "iterate", dies_in_iteration_6)
    with pytest.raises(RuntimeError, match="simulated"):
        train(cfg(tmp_path / "run"))
    monkeypatch.setattr(MetaLearner, "iterate", original)
    (run_dir,) = list((tmp_path / "run" / "sine" / "meta-lstm").iterdir())
    config, state = load_for_resume(run_dir, None, None)
    train(config, run_dir, state)
    assert scalars(run_dir) == reference


def test_evaluation_reports_every_k_and_draws_the_curves(tmp_path):
    overrides = [
        "iterations=3",
        "eval.num_tasks=20",
        "eval.steps=3",
        "supervised.eval_shots=[5, 10, 20]",
        f"log.root={tmp_path}",
    ]
    run_dir = train(build_config("meta-lstm", "sine", None, overrides, CONFIGS_DIR))
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    assert result["metric"] == "mse" and result["steps"] == [0, 1, 2, 3]
    assert set(result["shots"]) == {"5", "10", "20"}
    for entry in result["shots"].values():
        assert len(entry["loss"]["mean"]) == len(entry["loss"]["ci95"]) == 4
        assert np.array(entry["loss"]["per_task"]).shape == (4, 20)
    assert result["update_rule"] == "learned LSTM rule" and result["iteration"] == 3
    assert len(result["curves"]["true"]) == 4 and set(result["curves"]["predicted"]) == {
        "0",
        "1",
        "2",
        "3",
    }
    for name in ("adaptation.png", "curves.png"):
        assert (run_dir / "eval" / name).stat().st_size > 0


def test_a_supervised_family_builds_a_plain_network():
    cfg = build_config("maml", "sine", None, [], CONFIGS_DIR)
    policy = build_policy(cfg, make_family("sine"))
    assert type(policy) is MLPPolicy and [layer.out_features for layer in policy.layers] == [
        40,
        40,
        1,
    ]


def test_evaluation_on_fewer_tasks_than_it_draws_curves_of(tmp_path):
    from metarl.evaluate_supervised import CURVE_TASKS

    overrides = ["iterations=1", f"eval.num_tasks={CURVE_TASKS - 1}", f"log.root={tmp_path}"]
    run_dir = train(build_config("maml", "sine", None, overrides, CONFIGS_DIR))
    result = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    assert len(result["curves"]["true"]) == CURVE_TASKS - 1
