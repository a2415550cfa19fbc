"""`metarl-results by-task`: a run's held-out returns split by a task parameter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from metarl.errors import ResultsError
from metarl.held_out import held_out_tasks, jsonable_task
from metarl.results.by_task import by_task_table, groups, task_list
from metarl.rundir import load_config
from metarl.tasks import make_family
from tests.test_evaluate import TINY_RUN

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dir_run(tmp_path_factory) -> Path:
    """A cheetah-dir-rllab run of one tiny iteration, evaluated on 6 held-out tasks."""
    from metarl.config import build_config
    from metarl.trainer import train

    root = tmp_path_factory.mktemp("runs")
    tiny = [*TINY_RUN, "eval.num_tasks=6", "eval.steps=2", f"log.root={root}"]
    return train(build_config("maml", "cheetah-dir-rllab", None, tiny))


def _adaptation(run: Path) -> dict:
    return json.loads((run / "eval" / "adaptation.json").read_text())


def test_the_evaluation_records_its_tasks_in_per_task_order(dir_run):
    cfg = load_config(dir_run)
    tasks, _ = held_out_tasks(cfg, make_family(cfg.env.name), 6)
    recorded = _adaptation(dir_run)["task_list"]
    assert recorded == [jsonable_task(t) for t in tasks]
    assert {t["direction"] for t in recorded} <= {-1.0, 1.0}


def test_files_without_the_task_list_get_the_same_tasks_drawn_again(dir_run, tmp_path):
    adaptation = _adaptation(dir_run)
    recorded = adaptation.pop("task_list")
    assert task_list(dir_run, adaptation) == recorded
    # The draw follows the file's task seed, not the config's.
    other = task_list(dir_run, {**adaptation, "task_seed": adaptation["task_seed"] + 1})
    cfg = load_config(dir_run)
    cfg.eval.seed += 1
    again, _ = held_out_tasks(cfg, make_family(cfg.env.name), 6)
    assert other == [jsonable_task(t) for t in again]


def test_groups_by_direction_average_the_per_task_returns(dir_run):
    adaptation = _adaptation(dir_run)
    returns = np.array(adaptation["per_task_mean_return"])
    directions = np.array([t["direction"] for t in adaptation["task_list"]])
    table = by_task_table(dir_run, "direction")
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.count("|") > 3}
    for label, mask in [("-1", directions < 0), ("1", directions > 0), ("all", directions != 0)]:
        if not mask.any():
            continue
        cells = [c.strip() for c in rows[label].split("|")[2:-1]]
        assert int(cells[0]) == mask.sum()
        assert [float(c) for c in cells[1:4]] == pytest.approx(returns[:, mask].mean(1), abs=0.01)
        gain = returns[1, mask] - returns[0, mask]
        assert cells[4] == f"{gain.mean():+.2f} ({int((gain > 0).sum())}/{int(mask.sum())})"


def test_a_key_with_many_values_is_binned_with_every_task_in_one_bin():
    values = np.linspace(0.0, 2.0, 40)
    bins = groups(values, 4)
    assert len(bins) == 4 and sum(int(mask.sum()) for _, mask in bins) == 40
    assert bins[0][0] == "[0, 0.5)" and bins[-1][0] == "[1.5, 2]" and bins[-1][1][-1]
    assert [label for label, _ in groups(np.array([1.0, -1.0, 1.0]), 4)] == ["-1", "1"]


def test_a_missing_or_non_scalar_key_is_named_with_the_keys_there_are(dir_run, tmp_path):
    with pytest.raises(ResultsError, match="no scalar key 'velocity'.*direction"):
        by_task_table(dir_run, "velocity")
    with pytest.raises(ResultsError, match="no evaluation file adaptation_iter7.json"):
        by_task_table(dir_run, "direction", file="adaptation_iter7.json")
    adaptation = _adaptation(dir_run)
    adaptation["task_list"] = [{"goal": [0.1, 0.2]}] * adaptation["num_tasks"]
    copy = tmp_path / "run"
    (copy / "eval").mkdir(parents=True)
    (copy / "config.yaml").write_text((dir_run / "config.yaml").read_text())
    (copy / "eval" / "adaptation.json").write_text(json.dumps(adaptation))
    with pytest.raises(ResultsError, match="'goal' is not a number"):
        by_task_table(copy, "goal")


def test_the_command_prints_the_table_and_fails_in_one_line(dir_run):
    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "metarl.results", "by-task", str(dir_run), *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)

    ok = run("--key", "direction")
    assert ok.returncode == 0 and "| direction | tasks | k = 0 | k = 1 | k = 2 |" in ok.stdout
    bad = run("--key", "speed")
    assert bad.returncode == 2 and bad.stderr.startswith("error: The tasks have no scalar key")
    assert "Traceback" not in bad.stderr
