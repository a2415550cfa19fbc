"""metarl-results on synthetic run directories: grouping, statistics across seeds, the table,
figures, export to a results folder, updating marked blocks in markdown, and its errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from metarl.config import Config
from metarl.errors import ResultsError
from metarl.results import report
from metarl.results.export import export_run
from metarl.results.groups import group_runs
from metarl.results.runs import find_runs, load_run
from metarl.results.stats import across_seeds

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("rliable", reason='the results extra: pip install "metarl[results]"')


def make_run(
    root: Path,
    algo: str,
    seed: int,
    returns: list[float],
    iterations: int = 20,
    settings: dict | None = None,
    env: str = "point-goal",
    extra_columns: bool = False,
) -> Path:
    """A run directory as train.py leaves it, with made-up numbers."""
    cfg = Config()
    cfg.algo, cfg.seed, cfg.iterations, cfg.env.name = algo, seed, iterations, env
    data = cfg.to_dict()
    for key, value in (settings or {}).items():
        section, name = key.split(".")
        data[section][name] = value
    run = root / env / algo / f"20260101-000000-s{seed}"
    (run / "eval").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(data))
    result = {
        "steps": list(range(len(returns))),
        "mean_return": returns,
        "ci95": [1.0] * len(returns),
        "num_tasks": 40,
        "episodes_per_task": 40,
        "algo": algo,
        "env": env,
        "seed": seed,
        "iteration": iterations,
        "checkpoint": str(run / "checkpoints" / "final.pt"),
    }
    (run / "eval" / "adaptation.json").write_text(json.dumps(result))
    with open(run / "progress.csv", "w", newline="") as f:
        writer = csv.writer(f)
        header = ["iteration", "wall_time", "returns/post_adapt", "returns/pre_adapt"]
        header += ["time/iteration"] + (
            ["trpo/kl", "update/outer_surrogate"] if extra_columns else []
        )
        writer.writerow(header)
        for i in range(1, iterations + 1):
            row = [i, 1.0e9 + i, -30 + i + seed, -40 + i / 2 + seed, 0.5 + 0.01 * seed]
            writer.writerow(row + ([0.01, 1e-9] if extra_columns else []))
    return run


SEEDS = {0: [-38.0, -11.0, -9.0, -8.0], 1: [-37.0, -12.5, -8.5, -7.5], 2: [-39.0, -10.0, -9.5]}


@pytest.fixture
def runs(tmp_path) -> Path:
    root = tmp_path / "runs"
    for seed, returns in SEEDS.items():
        make_run(root, "meta-sgd", seed, returns)
    make_run(root, "maml", 0, [-40.0, -13.0], settings={"inner.lr": 0.1})
    make_run(root, "maml", 1, [-41.0, -14.0], settings={"inner.lr": 0.1})
    make_run(root, "maml", 2, [-42.0, -20.0], settings={"inner.lr": 0.05})
    return root


def test_groups_by_family_algorithm_and_differing_config_keys(runs):
    groups = group_runs([load_run(p) for p in find_runs([runs])])
    labels = [(g.label, g.seeds) for g in groups]
    assert labels == [
        ("maml (inner.lr=0.05)", [2]),
        ("maml (inner.lr=0.1)", [0, 1]),
        ("meta-sgd", [0, 1, 2]),
    ]


def test_bootstrap_interval_across_three_seeds_spans_them():
    scores = np.array([[-11.0, 1.0], [-12.5, 2.0], [-10.0, 3.0]])
    stats = across_seeds(scores, reps=2000)
    assert stats.n == 3
    np.testing.assert_allclose(stats.mean, scores.mean(0))
    # Percentile bootstrap of a mean of 3: the interval reaches the extreme seeds.
    np.testing.assert_allclose(stats.low, scores.min(0))
    np.testing.assert_allclose(stats.high, scores.max(0))
    assert (stats.low <= stats.iqm).all() and (stats.iqm <= stats.high).all()


def test_one_seed_has_no_interval():
    stats = across_seeds(np.array([[-11.0, -9.0]]))
    assert stats.n == 1 and np.isnan(stats.low).all() and stats.mean.tolist() == [-11.0, -9.0]


def test_report_writes_the_table_and_figures(runs, tmp_path):
    out = tmp_path / "out"
    written, tables = report([runs], out, smooth=3, reps=2000)
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "adaptation_point-goal.png",
            "adaptation_point-goal.pdf",
            "training_point-goal.png",
            "training_point-goal.pdf",
            "results.md",
            "results.csv",
        ]
    )
    for path in written:
        assert path.stat().st_size > 500, path
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    sgd = {int(r["k"]): r for r in rows if r["source"] == "metarl" and r["algo"] == "meta-sgd"}
    assert sorted(sgd) == [0, 1, 2]  # k = 3 is missing for seed 2: the common steps only
    k1 = [SEEDS[s][1] for s in (0, 1, 2)]
    # The CSV keeps 6 significant digits.
    assert float(sgd[1]["mean"]) == pytest.approx(np.mean(k1), rel=1e-5)
    assert float(sgd[1]["ci_low"]) == pytest.approx(min(k1), rel=1e-5)
    assert float(sgd[1]["ci_high"]) == pytest.approx(max(k1), rel=1e-5)
    assert sgd[1]["n_seeds"] == "3" and sgd[1]["seeds"] == "0 1 2"
    assert float(sgd[1]["seconds_per_iteration"]) == pytest.approx(0.51)
    paper = [r for r in rows if r["source"].startswith("MAML paper")]
    assert [float(r["mean"]) for r in paper] == [-40.41, -11.68, -3.33, -3.23]
    md = (out / "results.md").read_text()
    assert "| metarl meta-sgd | 3 (0, 1, 2) | 20 | −38.00 [−39.00, −37.00] |" in md
    assert "| metarl maml (inner.lr=0.05) | 1 (2) | 20 | −42.00 | −20.00 |" in md
    assert "| MAML paper: MAML (Finn et al. 2017) | – | – | −40.41 | −11.68 |" in md
    assert tables["point-goal"] in md


def test_export_keeps_the_small_files_and_reports_the_same(runs, tmp_path):
    big = make_run(tmp_path / "big", "reptile", 5, [-39.0, -20.0], extra_columns=True)
    dest = export_run(big, tmp_path / "docs" / "results")
    assert dest == tmp_path / "docs" / "results" / "point-goal" / "reptile" / big.name
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == [
        "adaptation.json",
        "config.yaml",
        "progress.csv",
    ]
    header = (dest / "progress.csv").read_text().splitlines()[0].split(",")
    assert "trpo/kl" not in header and "returns/post_adapt" in header
    assert json.loads((dest / "eval" / "adaptation.json").read_text())["checkpoint"] == "final.pt"
    # An earlier checkpoint's evaluation (evaluate --checkpoint) travels too, with a portable path.
    earlier = {"mean_return": [-40.0], "checkpoint": str(big / "checkpoints" / "iter_000003.pt")}
    (big / "eval" / "adaptation_iter3.json").write_text(json.dumps(earlier))
    copied = export_run(big, tmp_path / "docs" / "results") / "eval" / "adaptation_iter3.json"
    assert json.loads(copied.read_text()) == {**earlier, "checkpoint": "iter_000003.pt"}
    for run in find_runs([runs]):
        export_run(run, tmp_path / "exported")
    _, direct = report([runs], tmp_path / "a", smooth=3, reps=500)
    _, exported = report([tmp_path / "exported"], tmp_path / "b", smooth=3, reps=500)
    assert direct == exported


def test_update_doc_replaces_only_the_marked_block(runs, tmp_path):
    doc = tmp_path / "bench.md"
    doc.write_text(
        "# Benchmarks\n\nprose above\n\n<!-- metarl-results: table point-goal -->\nold table\n"
        "<!-- /metarl-results -->\n\nprose below\n"
    )
    report([runs], tmp_path / "out", smooth=3, reps=500, update_docs=[doc])
    text = doc.read_text()
    assert "old table" not in text and "prose above" in text and "prose below" in text
    assert "| metarl meta-sgd | 3 (0, 1, 2) |" in text
    # A block of another family (made from other runs, by its own command) is left as it is...
    other = "<!-- metarl-results: table cheetah-vel -->\nkept\n<!-- /metarl-results -->\n"
    doc.write_text(other + text)
    report([runs], tmp_path / "out", smooth=3, reps=500, update_docs=[doc])
    assert doc.read_text() == other + text
    # ...but a document with no block for the runs given is an error.
    doc.write_text(other)
    with pytest.raises(ResultsError, match="no block for the runs given.*table point-goal"):
        report([runs], tmp_path / "out", smooth=3, reps=500, update_docs=[doc])


def test_reads_tensorboard_events_when_there_is_no_progress_csv(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    run = make_run(tmp_path, "maml", 0, [-40.0, -12.0])
    (run / "progress.csv").unlink()
    writer = SummaryWriter(str(run))
    for i in range(1, 4):
        writer.add_scalar("returns/post_adapt", -20.0 + i, i)
        writer.add_scalar("time/iteration", 0.25, i)
    writer.close()
    record = load_run(run)
    assert record.series("returns/post_adapt")[1].tolist() == [-19.0, -18.0, -17.0]
    assert record.seconds_per_iteration() == 0.25


def test_command_line_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "metarl.results", str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: No metarl runs under") and "Traceback" not in out.stderr


def test_missing_rliable_names_the_extra(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "rliable", None)  # import rliable now raises ImportError
    with pytest.raises(ResultsError, match=r'pip install "metarl\[results\]"'):
        report([runs], tmp_path / "out", reps=500)


def test_headline_puts_every_family_in_one_table(runs, tmp_path):
    make_run(runs, "maml", 0, [-130.0, -85.0, -75.0, -70.0], env="cheetah-vel-rllab")
    doc = tmp_path / "bench.md"
    family_block = "<!-- metarl-results: table point-goal -->\nits own\n<!-- /metarl-results -->\n"
    doc.write_text(
        "<!-- metarl-results: headline paper -->\nold\n<!-- /metarl-results -->\n" + family_block
    )
    # The paths' order is the families' order: cheetah first here.
    report(
        [runs / "cheetah-vel-rllab", runs / "point-goal"],
        tmp_path / "out",
        smooth=3,
        reps=500,
        update_docs=[doc],
        headline="paper",
    )
    text = doc.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    families = [row.split(" | ")[0].removeprefix("| ") for row in rows[1:]]
    assert families == ["cheetah-vel-rllab"] * 2 + ["point-goal"] * 5
    # One seed: ± the run's own CI over tasks; three seeds: the bootstrap interval across them.
    assert "| metarl maml | 1 (0) | 20 | −130.00 ± 1.00 | −85.00 ± 1.00 |" in text
    assert "| −78.57 |" in text and "| point-goal | MAML paper: MAML (Finn et al. 2017) |" in text
    three = next(row for row in rows if "metarl meta-sgd" in row)
    assert "3 (0, 1, 2)" in three and "[" in three and "±" not in three
    # The per-family block belongs to its own command and is left alone.
    assert family_block in text and "old" not in text
    assert (tmp_path / "out" / "headline.md").read_text() in text


def test_headline_name_must_be_a_block_name(runs, tmp_path):
    with pytest.raises(ResultsError, match="--headline 'a b'"):
        report([runs], tmp_path / "out", reps=500, headline="a b")


def test_a_stopped_run_is_read_from_its_latest_periodic_evaluation(tmp_path):
    run = make_run(tmp_path, "maml", 0, [-40.0, -12.0], iterations=150)
    final = json.loads((run / "eval" / "adaptation.json").read_text())
    (run / "eval" / "adaptation.json").unlink()
    for iteration, k1 in ((50, -20.0), (150, -12.0), (100, -15.0)):
        result = dict(final, iteration=iteration, mean_return=[-40.0, k1])
        (run / "eval" / f"adaptation_iter{iteration}.json").write_text(json.dumps(result))
    record = load_run(run)
    assert record.adaptation["iteration"] == 150 and record.adaptation["mean_return"][1] == -12.0


def test_a_run_from_before_an_option_existed_groups_with_its_default(tmp_path):
    new = make_run(tmp_path / "new", "maml", 0, [-40.0, -12.0])
    old = make_run(tmp_path / "old", "maml", 1, [-41.0, -13.0])
    data = yaml.safe_load((old / "config.yaml").read_text())
    del data["inner"]["later_lr_scale"], data["policy"]["action_scale"]
    (old / "config.yaml").write_text(yaml.safe_dump(data))
    groups = group_runs([load_run(new), load_run(old)])
    assert [(g.label, g.seeds) for g in groups] == [("maml", [0, 1])]


def test_the_paper_task_evaluations_are_reported_apart(runs, tmp_path):
    run = runs / "point-goal" / "meta-sgd" / "20260101-000000-s0"
    own = json.loads((run / "eval" / "adaptation.json").read_text())
    paper = dict(own, tasks="paper", mean_return=[-41.0, -10.0, -4.0, -3.5])
    (run / "eval" / "adaptation_paper-tasks.json").write_text(json.dumps(paper))
    assert load_run(run).adaptation["mean_return"] == own["mean_return"]
    assert load_run(run, "paper").adaptation["mean_return"] == paper["mean_return"]
    # Only the run evaluated on the paper's tasks is in that table.
    _, tables = report([runs], tmp_path / "out", smooth=3, reps=500, tasks="paper")
    table = tables["point-goal"]
    assert "| metarl meta-sgd | 1 (0) |" in table and "metarl maml" not in table
    assert "40 of the MAML paper's test tasks" in table
    # export keeps every evaluation under its own name
    dest = export_run(run, tmp_path / "exported")
    copied = json.loads((dest / "eval" / "adaptation_paper-tasks.json").read_text())
    assert copied["tasks"] == "paper" and copied["mean_return"] == paper["mean_return"]
    copied = json.loads((dest / "eval" / "adaptation.json").read_text())
    assert copied["mean_return"] == own["mean_return"]
