"""Evaluation during training (eval.every) and what a run logs: TensorBoard tags, the Custom
Scalars layout, HParams, the adaptation figure, progress.csv and the progress line."""

from __future__ import annotations

import csv

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from metarl.cli import CONFIGS_DIR
from metarl.config import build_config
from metarl.trainer import train

TINY = [
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=3",
    "policy.hidden_sizes=[8]",
    "env.horizon=15",
    "eval.num_tasks=3",
    "eval.episodes_per_task=2",
    "eval.steps=2",
]
HELD_OUT = ["returns/held_out_k0", "returns/held_out_k1", "returns/held_out_k2"]


def config(root, *extra):
    return build_config(
        "meta-sgd", "point-goal", None, [*TINY, f"log.root={root}", *extra], CONFIGS_DIR
    )


def progress(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("every")
    return train(config(root, "iterations=4", "eval.every=2"))


def test_held_out_returns_are_curves_over_training(evaluated):
    acc = EventAccumulator(str(evaluated), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    # The final evaluation writes its own event file, in eval/ (a re-run replaces it).
    final = EventAccumulator(str(evaluated / "eval"), size_guidance={"scalars": 0, "images": 0})
    final.Reload()
    for tag in HELD_OUT:
        # iteration 2 during training; 4 is the final evaluation (not repeated in the loop)
        steps = [e.step for a in (acc, final) for e in a.Scalars(tag)]
        assert steps == [2, 4], tag
    images = [e.step for a in (acc, final) for e in a.Images("adaptation/held_out")]
    assert images == [2, 4]
    assert [e.step for e in acc.Scalars("time/eval")] == [2]
    tags = acc.Tags()["scalars"]
    assert "returns/pre_adapt" in tags and "step_size/mean" in tags
    assert "update/outer_surrogate" in tags and not any(t.startswith("loss/") for t in tags)


def test_custom_scalars_and_hparams_are_written(evaluated):
    acc = EventAccumulator(str(evaluated), size_guidance={"tensors": 0})
    acc.Reload()
    assert acc.PluginTagToContent("custom_scalars")
    from tensorboard.plugins.hparams import plugin_data_pb2

    contents = acc.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(contents["_hparams_/experiment"])
    metrics = [m.name.tag for m in experiment.experiment.metric_infos]
    assert metrics == [*HELD_OUT, "returns/pre_adapt", "returns/post_adapt"]
    start = plugin_data_pb2.HParamsPluginData.FromString(
        contents["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["inner.lr"].number_value == 0.1
    assert start.hparams["algo"].string_value == "meta-sgd"


def test_progress_csv_has_every_iteration_and_the_held_out_columns(evaluated):
    rows = progress(evaluated)
    assert [r["iteration"] for r in rows] == ["1", "2", "3", "4"]
    assert all(rows[1][tag] for tag in HELD_OUT) and not any(rows[0][tag] for tag in HELD_OUT)
    assert float(rows[1]["time/eval"]) > 0
    assert float(rows[3]["throughput/env_steps_total"]) > 0


def test_the_progress_line_reports_the_evaluation_and_its_cost(tmp_path, capsys):
    train(config(tmp_path, "iterations=1", "eval.every=1", "eval.at_end=false"))
    out = capsys.readouterr().out
    assert "held-out k=0..2:" in out and "(eval " in out
    assert f"tensorboard --logdir {tmp_path}" in out


def test_evaluating_during_training_leaves_training_unchanged(tmp_path, evaluated):
    plain = train(config(tmp_path, "iterations=4", "eval.at_end=false"))
    skip = ("wall_time", "time/", "throughput/env_steps_per_s", "returns/held_out")
    for a, b in zip(progress(plain), progress(evaluated), strict=True):
        kept = {k: v for k, v in a.items() if not k.startswith(skip)}
        assert kept == {k: b[k] for k in kept}
