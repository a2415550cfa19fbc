"""The evaluation protocol: held-out tasks apart from training, the trained schedule, exact CIs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import metarl.adapt
from metarl.adapt import adaptation_rollouts, step_scales
from metarl.confidence import mean_ci95
from metarl.config import InnerConfig
from metarl.evaluate import distinct_tasks, paired_gains
from metarl.held_out import held_out_seeds
from metarl.tasks import make_family
from metarl.update_rules import FixedStep
from tests.conftest import make_setup

# A point-goal run that trains one iteration and evaluates in a second or two.
TINY_RUN = [
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=2",
    "policy.hidden_sizes=[8]",
    "env.horizon=10",
    "iterations=1",
    "eval.num_tasks=2",
    "eval.episodes_per_task=2",
    "eval.steps=1",
]


@pytest.mark.parametrize("family_name", ["point-goal", "cheetah-vel"])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_held_out_tasks_never_match_a_training_batch(family_name, seed):
    family = make_family(family_name)
    # Training draws its batches from default_rng(seed); the evaluation seed is 12345 by default,
    # and seed 12345 is the case that used to give the first training batch the held-out tasks.
    training = family.sample_tasks(200, np.random.default_rng(seed))
    held_out = family.sample_tasks(40, held_out_seeds(12345)[0])
    assert not {repr(t) for t in training} & {repr(t) for t in held_out}
    # ... while the held-out tasks stay fixed for every run.
    assert repr(held_out) == repr(family.sample_tasks(40, held_out_seeds(12345)[0]))


def test_finitely_many_tasks_are_counted():
    direction = make_family("cheetah-dir").sample_tasks(40, held_out_seeds(12345)[0])
    assert distinct_tasks(direction) == 2
    goals = make_family("point-goal").sample_tasks(40, held_out_seeds(12345)[0])
    assert distinct_tasks(goals) == 40


@pytest.mark.parametrize(
    ("n", "quantile"),
    # t_{0.975} for n - 1 degrees of freedom (standard tables, 7 digits).
    [(2, 12.7062047), (5, 2.7764451), (13, 2.1788128), (40, 2.0226909), (200, 1.9719565)],
)
def test_ci_uses_the_exact_student_t_quantile(n, quantile):
    values = np.random.default_rng(n).normal(size=n)
    mean, half_width = mean_ci95(values)
    assert mean == pytest.approx(values.mean())
    expected = quantile * values.std(ddof=1) / math.sqrt(n)
    assert half_width == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("trained_steps", "trained_later_scale", "expected"),
    [
        (1, 1.0, [0.1, 0.05, 0.05]),
        (3, 1.0, [0.1, 0.1, 0.1]),
        (2, 1.0, [0.1, 0.1, 0.05]),
        (2, 0.5, [0.1, 0.05, 0.05]),  # trained with the paper's test schedule
        (2, 0.25, [0.1, 0.025, 0.05]),
    ],
)
def test_evaluation_keeps_the_trained_steps_and_scales_only_later_ones(
    trained_steps, trained_later_scale, expected, monkeypatch
):
    _, policy, sampler, tasks = make_setup()
    seen = []
    real_step = metarl.adapt.adapt_step

    def spy(policy, params, rule, *args, **kwargs):
        seen.append(rule.lr)
        return real_step(policy, params, rule, *args, **kwargs)

    monkeypatch.setattr(metarl.adapt, "adapt_step", spy)
    inner = InnerConfig(steps=trained_steps, later_lr_scale=trained_later_scale)
    scales = step_scales(inner, 3, beyond=0.5)
    adaptation_rollouts(sampler, policy.params(), FixedStep(0.1), tasks, 3, inner, scales)
    assert seen == pytest.approx(expected)


def test_paired_gains_are_per_task_differences_from_k0():
    per_task = np.array([[-10.0, -20.0, -30.0], [-8.0, -19.0, -25.0], [-5.0, -21.0, -20.0]])
    gains = paired_gains(per_task)
    assert gains["tasks_improved"] == [3, 2]
    diffs = per_task[1:] - per_task[0]
    for k in range(2):
        mean, ci = mean_ci95(diffs[k])
        assert gains["paired_gain"][k] == pytest.approx(mean)
        assert gains["paired_gain_ci95"][k] == pytest.approx(ci)
    # Pairing removes the spread between tasks: the unpaired interval of k = 1 is far wider.
    assert gains["paired_gain_ci95"][0] < mean_ci95(per_task[1])[1] / 2


def test_evaluating_again_replaces_the_tensorboard_points(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from metarl.config import build_config
    from metarl.evaluate import evaluate_run
    from metarl.logger import EVAL_EVENTS
    from metarl.tb_layout import held_out_tag
    from metarl.trainer import train

    tiny = [*TINY_RUN, f"log.root={tmp_path}"]
    run_dir = train(build_config("maml", "point-goal", None, tiny))  # evaluates at the end
    evaluate_run(run_dir, device="cpu")
    evaluate_run(run_dir, device="cpu")
    assert len(list((run_dir / EVAL_EVENTS).glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(run_dir / EVAL_EVENTS))
    events.Reload()
    for k in (0, 1):
        assert [e.step for e in events.Scalars(held_out_tag(k))] == [1]
    # The training's own event file keeps its scalars and gains no held-out points.
    training = EventAccumulator(str(run_dir))
    training.Reload()
    assert held_out_tag(0) not in training.Tags()["scalars"]


@pytest.mark.parametrize(
    ("family_name", "key"),
    [
        ("point-goal", "goal"),
        ("cheetah-vel", "velocity"),
        ("cheetah-dir-rllab", "direction"),
        ("ant-vel-rllab", "velocity"),
        ("ant-dir", "direction"),
    ],
)
def test_paper_tasks_are_the_paper_scripts_draws(family_name, key):
    family = make_family(family_name)
    tasks = family.paper_tasks(40)
    assert len(tasks) == 40 and repr(tasks) == repr(family.paper_tasks(40))
    assert all(set(task) == {key} for task in tasks)
    # The scripts' first draw of np.random.seed(1) (seed 2 for ant-dir) is U = 0.417022
    # (0.435995): the first goal / velocity / direction is that draw mapped onto the range.
    first = tasks[0][key]
    expected = {
        "goal": np.array([-0.0829780, 0.2203245]),  # -0.5 + U, then the second draw
        "velocity": 0.417022 * (3.0 if "ant" in family_name else 2.0),
        "direction": -1.0,  # both draws fall below the middle
    }[key]
    assert np.allclose(first, expected, atol=1e-6)
    if key == "direction":
        assert distinct_tasks(tasks) == 2


def test_evaluating_on_the_paper_tasks_keeps_the_runs_own_curve(tmp_path):
    import json

    from metarl.config import build_config
    from metarl.evaluate import evaluate_run
    from metarl.trainer import train

    tiny = [*TINY_RUN, f"log.root={tmp_path}"]
    run_dir = train(build_config("maml", "point-goal", None, tiny))
    own = json.loads((run_dir / "eval" / "adaptation.json").read_text())
    paper = evaluate_run(run_dir, device="cpu", tasks="paper")
    assert own["tasks"] == "sampled" and paper["tasks"] == "paper"
    assert json.loads((run_dir / "eval" / "adaptation.json").read_text()) == own
    written = json.loads((run_dir / "eval" / "adaptation_paper-tasks.json").read_text())
    assert written["mean_return"] == paper["mean_return"] != own["mean_return"]


def test_paper_tasks_of_a_family_without_them_fail_before_training():
    from metarl.build import build
    from metarl.config import build_config
    from metarl.errors import MetaRLError

    cfg = build_config("maml", "bandit", None, ["eval.tasks=paper"])
    with pytest.raises(MetaRLError, match="eval.tasks: paper .* bandit has none"):
        build(cfg)


def test_an_unknown_task_set_is_named_with_the_choices():
    from metarl.config import build_config
    from metarl.errors import ConfigError

    with pytest.raises(ConfigError, match="eval.tasks 'papers'. Did you mean 'paper'"):
        build_config("maml", "point-goal", None, ["eval.tasks=papers"])
