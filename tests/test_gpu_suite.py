"""benchmarks/gpu_suite.sh: the JSON has every field whatever runs, fails or runs out of time; a
failing step is recorded and the next one runs; a child past its limit is stopped with everything
it started; the goals compare the figures with the targets; and a tiny run on the CPU fills every
field with results (slow)."""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"

LEAF = {"status", "budget_s", "wall_s", "error", "note", "result"}
STEPS = {"install", "machine", "agreement", "profile", "sampler", "cheetah_iteration"}
TOP = {
    "schema_version",
    "suite",
    "iteration_time",
    "paper_protocol",
    "goals",
    "skipped_for_time",
} | STEPS
ALGOS, SCALES, ROLES = ("maml", "meta-sgd", "reptile"), ("paper", "x10"), ("device", "cpu")
GOALS = {
    "maml_paper_s_per_iteration",
    "paper_protocol_500_s",
    "x10_speedup_vs_2core",
    "sampler_efficiency",
    "note",
}
TINY_POINT_GOAL = [
    "sampler.meta_batch_size=4",
    "sampler.episodes_per_task=4",
    "policy.hidden_sizes=[16,16]",
    "env.horizon=20",
]


@pytest.fixture(scope="module")
def bench():
    """The benchmarks/ modules (a folder of scripts, not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        yield Namespace(
            suite=importlib.import_module("gpu_suite"),
            goals=importlib.import_module("gpu_goals"),
            wheels=importlib.import_module("gpu_wheels"),
        )
    finally:
        sys.path.remove(str(BENCH))


def env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, PYTHON=sys.executable)


def leaves(result: dict) -> dict[str, dict]:
    """Every step's entry by its id, after checking that every field of the schema is there."""
    assert set(result) == TOP
    assert set(result["goals"]) == GOALS
    assert {"command", "device", "tiny", "budget_s", "commit", "wall_s"} <= set(result["suite"])
    found = {name: result[name] for name in STEPS}
    for algo in ALGOS:
        assert set(result["iteration_time"][algo]) == set(SCALES)
        for scale in SCALES:
            assert set(result["iteration_time"][algo][scale]) == set(ROLES)
            for role in ROLES:
                found[f"iteration_time/{algo}/{scale}/{role}"] = result["iteration_time"][algo][
                    scale
                ][role]
    assert set(result["paper_protocol"]) == set(ROLES)
    for role in ROLES:
        found[f"paper_protocol/{role}"] = result["paper_protocol"][role]
    for name, leaf in found.items():
        assert set(leaf) == LEAF, name
    return found


def make_suite(bench, tmp_path: Path, budget: float = 600.0):
    args = Namespace(
        device="cpu",
        tiny=True,
        budget=budget,
        limit_scale=1.0,
        out=tmp_path / "out",
        wheels=tmp_path / "no-wheels",
        only=[],
    )
    return bench.suite.Suite(args)


def test_with_no_time_every_field_is_written_and_every_step_skipped(tmp_path):
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, str(BENCH / "gpu_suite.py"), "--device", "cpu", "--tiny"]
        + ["--budget", "0", "--out", str(out)],
        env=env(),
        check=True,
        capture_output=True,
    )
    result = json.loads((out / "gpu_suite.json").read_text())
    steps = leaves(result)
    assert len(steps) == 20
    assert {leaf["status"] for leaf in steps.values()} == {"skipped"}
    assert len(result["skipped_for_time"]) == 20
    assert result["goals"]["maml_paper_s_per_iteration"]["met"] is None
    assert result["goals"]["note"].startswith("tiny sizes")
    assert (out / "gpu_suite.log").read_text().count("skipped, out of time") == 20


def test_a_failing_step_is_recorded_and_the_next_one_runs(bench, tmp_path):
    suite = make_suite(bench, tmp_path)
    suite.step("sampler", suite.result["sampler"], lambda limit: 1 / 0)
    suite.step(
        "cheetah_iteration",
        suite.result["cheetah_iteration"],
        lambda limit: suite.json_child(["-c", "print('no JSON'); raise SystemExit(3)"], 30, "x"),
    )
    suite.step("machine", suite.result["machine"], lambda limit: {"limit": limit})
    saved = json.loads(suite.json_path.read_text())
    assert saved["sampler"]["status"] == "error"
    assert saved["sampler"]["error"].startswith("ZeroDivisionError")
    failed = saved["cheetah_iteration"]
    assert failed["status"] == "error"
    assert "exited with code 3" in failed["error"] and "no JSON" in failed["error"]
    assert saved["machine"]["status"] == "ok"
    assert saved["machine"]["result"]["limit"] == bench.suite.BUDGETS["machine"]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie waits for init to reap it: it runs no more


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_child_past_its_limit_is_stopped_with_the_processes_it_started(bench, tmp_path):
    suite = make_suite(bench, tmp_path)
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "print('grandchild', p.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    res = suite.python(["-c", script], limit=3)
    assert res.timed_out and res.returncode == -signal.SIGKILL
    pid = int(next(line for line in res.tail if line.startswith("grandchild")).split()[1])
    for _ in range(50):
        if _gone(pid):
            break
        time.sleep(0.1)
    assert _gone(pid)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_stopped_suite_stops_its_child_and_writes_what_it_has(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "gpu_suite.py"), "--device", "cpu", "--tiny"]
        + ["--only", "agreement", "--out", str(out), "--wheels", str(tmp_path / "none")],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:  # wait until the agreement step has started pytest
        if line.startswith("$ ") and " pytest " in line:
            report = re.search(r"--junitxml=(\S+)", line).group(1)
            break
    proc.send_signal(signal.SIGTERM)
    proc.stdout.read()
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    result = json.loads((out / "gpu_suite.json").read_text())
    leaves(result)
    assert result["suite"]["stopped_by"] == "SIGTERM"
    assert result["agreement"]["status"] == "error"
    assert "stopped by SIGTERM" in result["agreement"]["error"]
    assert result["sampler"]["status"] == "skipped"
    # pytest ran in a process group of its own; it was stopped with the suite, not left behind.
    for _ in range(50):
        running = [
            c
            for c in Path("/proc").glob("[0-9]*/cmdline")
            if report in _read(c) and not _gone(int(c.parent.name))
        ]
        if not running:
            break
        time.sleep(0.1)
    assert not running


def _read(path: Path) -> str:
    try:
        return path.read_text().replace("\0", " ")
    except OSError:
        return ""


def test_goals_compare_the_figures_with_the_targets(bench):
    def it(s: float) -> dict:
        return {"result": {"s_per_iteration_median": s}}

    result = {
        "iteration_time": {
            "maml": {"paper": {"device": it(0.08)}, "x10": {"device": it(0.381), "cpu": it(1.0)}},
            "meta-sgd": {"x10": {"device": it(0.5)}},
        },
        "paper_protocol": {
            "device": {
                "result": {
                    "iterations_done": 500,
                    "iterations_planned": 500,
                    "command_wall_s": 70.0,
                    "loop_s": 50.0,
                }
            }
        },
        "sampler": {
            "result": {
                "sampler": [{"workers": 1, "efficiency": 0.9}, {"workers": 16, "efficiency": 0.7}]
            }
        },
    }
    g = bench.goals.goals(result)
    assert g["note"] is None
    assert g["maml_paper_s_per_iteration"]["met"] is True
    assert g["paper_protocol_500_s"]["value"] == 70.0
    assert g["paper_protocol_500_s"]["met"] is False
    speed = g["x10_speedup_vs_2core"]["per_algo"]
    assert speed["maml"]["speedup_vs_2core"] == pytest.approx(10.0)
    assert speed["maml"]["met"] is True and speed["maml"]["speedup_vs_cpu_here"] == pytest.approx(
        1.0 / 0.381
    )
    assert speed["meta-sgd"]["met"] is False  # 3.56 / 0.5 = 7.1x
    assert speed["reptile"]["met"] is None and speed["reptile"]["device_s"] is None
    sampler = g["sampler_efficiency"]
    assert sampler["per_workers"]["1"]["met"] is True
    assert sampler["per_workers"]["16"]["met"] is False
    assert sampler["met"] is False

    result["paper_protocol"]["device"]["result"]["iterations_done"] = 250  # stopped for time
    cut = bench.goals.goals(result)["paper_protocol_500_s"]
    assert cut["value"] is None and cut["met"] is None
    assert cut["estimate_for_500_s"] == pytest.approx(100.0)


def test_the_wheels_are_the_projects_requirements_without_torch(bench):
    requirements = bench.wheels.project_requirements()
    names = [re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0] for r in requirements]
    assert "gymnasium" in names and "mujoco" in names and "numpy" in names
    assert "torch" not in names
    tags = bench.wheels.manylinux_tags(28)
    assert "manylinux_2_28_x86_64" in tags and "manylinux2014_x86_64" in tags
    assert "manylinux_2_29_x86_64" not in tags


def test_paper_protocol_passes_ctrl_c_to_train_which_saves_a_checkpoint(tmp_path):
    out = tmp_path / "run.json"
    cmd = [
        sys.executable,
        str(BENCH / "paper_protocol.py"),
        "run",
        "--algo",
        "meta-sgd",
        "--root",
        str(tmp_path / "runs"),
        "--json",
        str(out),
        "--",
        "--iterations",
        "100000",
        "--device",
        "cpu",
        "--set",
        *TINY_POINT_GOAL,
    ]
    proc = subprocess.Popen(
        cmd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A shell's background job ignores SIGINT, and children inherit that: restore it, or the
        # Ctrl-C this test sends never arrives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    for line in proc.stdout:  # wait for the first iteration, however long the start takes
        lines.append(line)
        if re.match(r"\[\s*1/100000\]", line):
            break
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole process group
    lines += proc.stdout.readlines()
    assert proc.wait(timeout=300) == 130, "".join(lines)
    result = json.loads(out.read_text())
    assert result["exit_code"] == 130
    assert 1 <= result["iterations_done"] < 100000
    assert result["adaptation"] is None  # stopped before the evaluation at the end
    assert len(result["training_curve"]["post_adapt"]) == result["iterations_done"]
    assert list((Path(result["run_dir"]) / "checkpoints").glob("*.pt"))


@pytest.mark.slow
def test_a_tiny_cpu_run_fills_every_field_with_results(tmp_path):
    out = tmp_path / "out"
    # Time limits 20x the usual: this checks what is measured, not how fast, on a busy machine too.
    subprocess.run(
        ["bash", str(BENCH / "gpu_suite.sh"), "--device", "cpu", "--tiny"]
        + ["--limit-scale", "20", "--budget", "7200", "--out", str(out)],
        env=env(),
        check=True,
        capture_output=True,
    )
    result = json.loads((out / "gpu_suite.json").read_text())
    steps = leaves(result)
    bad = {k: (v["status"], v["error"]) for k, v in steps.items() if v["status"] != "ok"}
    assert not bad
    assert result["skipped_for_time"] == []
    assert result["suite"]["device"] == "cpu" and result["suite"]["tiny"] is True

    assert result["machine"]["result"]["cpu_count"] >= 1
    agreement = result["agreement"]["result"]
    assert agreement["counts"]["failed"] == 0
    assert agreement["passed"] is (True if agreement["counts"]["skipped"] == 0 else None)
    for algo in ALGOS:
        for scale in SCALES:
            for role in ROLES:
                r = steps[f"iteration_time/{algo}/{scale}/{role}"]["result"]
                assert r["algo"] == algo and r["device"] == "cpu"
                assert r["iterations"] == 10 and r["s_per_iteration_median"] > 0
                assert set(r["split_median_s"]) == {"sampling", "adaptation", "update"}
                assert r["meta_batch_size"] == (40 if scale == "x10" else 4)
    for role in ROLES:
        run = result["paper_protocol"][role]["result"]
        assert run["algo"] == "meta-sgd" and run["iterations_done"] == 10
        assert run["adaptation"]["steps"] == [0, 1, 2, 3]
        assert len(run["adaptation"]["mean_return"]) == 4
        assert run["command_wall_s"] > run["loop_s"] > 0
    sampler = result["sampler"]["result"]
    assert sampler["raw_steps_per_s"] > 0
    assert [row["workers"] for row in sampler["sampler"]] == [1, 2]
    assert all(row["efficiency"] > 0 for row in sampler["sampler"])
    profiled = result["profile"]["result"]
    assert profiled["algo"] == "maml" and profiled["top_by_cpu_time"]
    cheetah = result["cheetah_iteration"]["result"]
    assert cheetah["env"] == "cheetah-vel" and cheetah["iterations"] == 1
    goals = result["goals"]
    assert goals["maml_paper_s_per_iteration"]["value"] > 0
    assert goals["note"].startswith("tiny sizes")  # tiny figures meet or miss no target
    assert goals["maml_paper_s_per_iteration"]["met"] is None
    assert goals["sampler_efficiency"]["per_workers"]["1"]["met"] is None
    assert set(goals["sampler_efficiency"]["per_workers"]) == {"1", "2"}
