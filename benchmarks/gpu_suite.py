"""Every GPU figure docs/benchmarks.md owes, in one run: one JSON file and a log.

    bash benchmarks/gpu_suite.sh --download-wheels     # where pip can reach an index: fill .whl/
    bash benchmarks/gpu_suite.sh --out DIR             # on the GPU machine (--device cuda)
    bash benchmarks/gpu_suite.sh --device cpu --tiny   # every step at tiny sizes, on any machine
    bash benchmarks/gpu_suite.sh --only sampler cheetah_iteration   # rerun some steps

The suite installs what the machine lacks from the wheels in .whl/, then runs each step as its own
child process with its own time limit, highest priority first, all inside `--budget` seconds (480
by default): a step that fails or runs out of time records its error and the rest go on, and the
JSON is rewritten after every step. The steps reuse the other scripts in benchmarks/:

- agreement: the CUDA tests (CPU/GPU agreement of one meta-update, everything on the GPU, the
  closed-form products on the data's device, the parallel sampler feeding a GPU policy);
- iteration_time/<algo>/<paper|x10>/<device|cpu>: point-goal MAML-TRPO, Meta-SGD and Reptile at
  the paper configuration and at 10x its meta-batch, median of 10 after warm-up, with the split
  into sampling / adaptation / update (iteration_time.py), on --device and on the CPU cores;
- paper_protocol/<device|cpu>: a 500-iteration point-goal Meta-SGD run timed end to end with its
  held-out adaptation curve (paper_protocol.py). The CPU run goes last and is shortened to the
  time left (estimated from its measured seconds per iteration); the JSON says so;
- sampler: cheetah-vel env steps/s with 1, 4, 8 and 16 workers against the raw single-process
  env.step rate (sampler_throughput.py);
- profile: one point-goal MAML-TRPO iteration on --device under torch.profiler: the ops that
  take the most time, and the kernel launches (profile_iteration.py);
- cheetah_iteration: MAML meta-iterations on cheetah-vel, learner on --device (iteration_time.py).

`goals` compares the figures with the targets: a point-goal MAML-TRPO iteration <= 0.1 s, the
500-iteration run < 60 s, at 10x the meta-batch >= 10x faster than the 2-core CPU machine of
docs/benchmarks.md, and the sampler >= 80% of raw x workers. `skipped_for_time` lists what was
skipped or cut short to stay inside the budget.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gpu_goals import ALGOS, goals, summary_text
from gpu_wheels import project_requirements

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
SCHEMA_VERSION = 1
SCALES = ("paper", "x10")
ROLES = ("device", "cpu")  # the device under test (--device), and the same machine's CPU cores
PAPER_META_BATCH = 20  # configs/*/point-goal.yaml

# The CUDA tests; on a machine without CUDA they skip, and the CPU cases among them still run.
AGREEMENT_TESTS = (
    "tests/test_device.py",
    "tests/test_gaussian_mlp.py::test_closed_forms_run_on_the_data_device",
    "tests/test_parallel_sampler.py::test_parallel_sampler_feeds_a_gpu_policy",
)


@dataclass(frozen=True)
class Sizes:
    """How large each step's work is: the paper's sizes, or tiny ones for a smoke test."""

    overrides: tuple[str, ...]  # point-goal, on top of configs/<algo>/point-goal.yaml
    meta_batch: int
    iterations: int  # timed iterations per iteration_time step (the median of these)
    warmup: dict[str, int]  # per "<scale>/<role>"
    long_run_iterations: int
    long_run_overrides: tuple[str, ...]
    sampler_args: tuple[str, ...]
    cheetah_args: tuple[str, ...]


FULL = Sizes(
    overrides=(),
    meta_batch=PAPER_META_BATCH,
    iterations=10,
    warmup={"paper/device": 3, "x10/device": 2, "paper/cpu": 2, "x10/cpu": 1},
    long_run_iterations=500,
    long_run_overrides=(),
    sampler_args=tuple(shlex.split("--workers 1 4 8 16 --repeats 2 --no-batch-reference")),
    cheetah_args=tuple(shlex.split("--iterations 2 --warmup 1")),
)
TINY = Sizes(
    overrides=("sampler.episodes_per_task=4", "policy.hidden_sizes=[16,16]", "env.horizon=20"),
    meta_batch=4,
    iterations=10,
    warmup={"paper/device": 1, "x10/device": 1, "paper/cpu": 1, "x10/cpu": 1},
    long_run_iterations=10,
    long_run_overrides=("eval.num_tasks=4", "eval.episodes_per_task=4"),
    sampler_args=tuple(
        shlex.split(
            "--workers 1 2 --tasks 4 --episodes 2 --repeats 1 --raw-steps 1000 --no-batch-reference"
        )
    ),
    cheetah_args=tuple(
        shlex.split(
            "--iterations 1 --warmup 1 --set sampler.meta_batch_size=2 "
            "sampler.episodes_per_task=2 env.horizon=20 policy.hidden_sizes=[16,16] "
            "sampler.num_workers=2"
        )
    ),
)

# Seconds each step may take at most (its child is stopped there). Their sum is more than the
# default budget: most steps finish well inside theirs, and a step that would start with less
# than MIN_STEP_S left is skipped for time.
BUDGETS = {
    "install": 60,
    "machine": 30,
    "agreement": 90,
    "iteration_time/paper/device": 30,
    "iteration_time/x10/device": 40,
    "profile": 45,
    "paper_protocol/device": 150,
    "iteration_time/paper/cpu": 30,
    "iteration_time/x10/cpu": 50,
    "sampler": 110,
    "cheetah_iteration": 60,
    "paper_protocol/cpu": 200,
}
MIN_STEP_S = 10.0
# What the steps import besides torch and metarl; a model compiled, so MuJoCo's library loads.
IMPORT_CHECK = (
    "import gymnasium, matplotlib, mujoco, tensorboard, yaml; "
    "mujoco.MjData(mujoco.MjModel.from_xml_string('<mujoco/>'))"
)
RESERVE_S = 5.0  # kept back at the end for the last JSON write
EVAL_RESERVE_S = 25.0  # of a long run's limit: evaluating a run stopped early
LONG_RUN_OVERHEAD_S = 30.0  # a long run's start-up and its evaluation at the end


class StepError(Exception):
    """A step failed; the message says how (exit code and the child's last lines)."""


class Stopped(BaseException):
    """The suite itself got SIGTERM, SIGINT or SIGHUP: it stops its child and writes the JSON."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _leaf(budget: float) -> dict:
    return {
        "status": "pending",
        "budget_s": budget,
        "wall_s": None,
        "error": None,
        "note": None,
        "result": None,
    }


def empty_result(args: argparse.Namespace) -> dict:
    """The JSON with every field present; each step's entry is filled in when it runs."""
    commit = _git("rev-parse", "HEAD")
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": {
            "command": " ".join(shlex.quote(a) for a in sys.argv),
            "device": args.device,
            "tiny": args.tiny,
            "budget_s": args.budget,
            "limit_scale": args.limit_scale,
            "only": args.only,
            "out_dir": str(args.out),
            "commit": commit,
            "dirty": None if commit is None else bool(_git("status", "--porcelain")),
            "started_utc": _now(),
            "finished_utc": None,
            "wall_s": None,
            "stopped_by": None,
        },
        "install": _leaf(BUDGETS["install"]),
        "machine": _leaf(BUDGETS["machine"]),
        "agreement": _leaf(BUDGETS["agreement"]),
        "iteration_time": {
            algo: {
                scale: {role: _leaf(BUDGETS[f"iteration_time/{scale}/{role}"]) for role in ROLES}
                for scale in SCALES
            }
            for algo in ALGOS
        },
        "paper_protocol": {role: _leaf(BUDGETS[f"paper_protocol/{role}"]) for role in ROLES},
        "profile": _leaf(BUDGETS["profile"]),
        "sampler": _leaf(BUDGETS["sampler"]),
        "cheetah_iteration": _leaf(BUDGETS["cheetah_iteration"]),
        "goals": goals({}),
        "skipped_for_time": [],
    }


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@dataclass
class ChildResult:
    returncode: int
    timed_out: bool
    wall_s: float
    tail: list[str]


class Suite:
    """Runs the steps in order, each inside its own limit and the suite's deadline."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = TINY if args.tiny else FULL
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.json_path = self.out / "gpu_suite.json"
        self.log_file = open(self.out / "gpu_suite.log", "w", buffering=1)  # noqa: SIM115
        self.work = Path(tempfile.mkdtemp(prefix="metarl-gpu-suite-"))
        self.start = time.perf_counter()
        self.deadline = self.start + args.budget
        self.result = empty_result(args)
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
        )
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._stop_signal: int | None = None

    # -- bookkeeping ------------------------------------------------------------------------

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()

    def log(self, line: str) -> None:
        with self._lock:
            self.log_file.write(line + "\n")
            print(line, flush=True)

    def save(self) -> None:
        self.result["goals"] = goals(self.result)
        tmp = self.json_path.with_name(self.json_path.name + ".tmp")
        tmp.write_text(json.dumps(self.result, indent=2))
        os.replace(tmp, self.json_path)

    def selected(self, step_id: str) -> bool:
        if not self.args.only or step_id in ("install", "machine"):
            return True
        return any(step_id.startswith(p) for p in self.args.only)

    def step(self, step_id: str, leaf: dict, fn: Callable[[float], dict]) -> None:
        """Runs fn(limit) for one entry of the JSON; whatever happens, records it and goes on."""
        self._check_stop()
        if not self.selected(step_id):
            leaf.update(status="skipped", note="not selected by --only")
            return
        limit = min(leaf["budget_s"] * self.args.limit_scale, self.remaining() - RESERVE_S)
        if limit < MIN_STEP_S:
            leaf.update(status="skipped", note=f"out of time ({max(limit, 0):.0f} s left)")
            self.result["skipped_for_time"].append(f"{step_id}: not run ({leaf['note']})")
            self.log(f"== {step_id}: skipped, {leaf['note']}")
            self.save()
            return
        self.log(f"== {step_id} (limit {limit:.0f} s, {self.remaining():.0f} s left in all)")
        start = time.perf_counter()
        try:
            leaf["result"] = fn(limit)
            leaf["status"] = leaf["result"].pop("_status", "ok")
            leaf["note"] = leaf["result"].pop("_note", None)
        except Stopped as err:
            leaf.update(status="error", error=f"the suite was stopped by {err}")
            leaf["wall_s"] = time.perf_counter() - start
            raise
        except StepError as err:
            leaf.update(status="timeout" if "time limit" in str(err) else "error", error=str(err))
        except Exception as err:  # a bug in this driver must not cost the other steps
            leaf.update(status="error", error=f"{type(err).__name__}: {err}")
            self.log(traceback.format_exc())
        leaf["wall_s"] = time.perf_counter() - start
        if leaf["status"] in ("timeout", "partial"):
            why = leaf["note"] or f"stopped at its {limit:.0f} s limit"
            self.result["skipped_for_time"].append(f"{step_id}: {why}")
        self.log(
            f"== {step_id}: {leaf['status']} in {leaf['wall_s']:.1f} s"
            + (f" ({leaf['error']})" if leaf["error"] else "")
        )
        self.save()

    def child(self, cmd: list[str], limit: float, soft_stop: bool = False) -> ChildResult:
        """Runs cmd in its own process group, its output into the log. Past `limit` seconds it is
        stopped: with soft_stop by SIGINT first (train.py then saves a checkpoint and exits),
        else (or 15 s later) by SIGKILL to the whole group."""
        self.log("$ " + " ".join(shlex.quote(c) for c in cmd))
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            # Its own process group, so that a stop reaches the workers it starts too.
            **(
                {"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}
            ),
        )
        self._child = proc
        self._check_stop()  # a signal that came while it was being started
        tail: deque[str] = deque(maxlen=25)

        def pump() -> None:
            for line in proc.stdout:
                tail.append(line.rstrip("\n"))
                self.log("  " + line.rstrip("\n"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=max(limit, 0.1))
        except subprocess.TimeoutExpired:
            timed_out = True
            if soft_stop:
                self.log(f"-- time limit ({limit:.0f} s): SIGINT, waiting for a checkpoint")
                _signal_group(proc.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=15)
            if proc.poll() is None:
                self.log(f"-- time limit ({limit:.0f} s): SIGKILL")
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        _signal_group(proc.pid, signal.SIGKILL)  # workers it may have left behind
        reader.join(timeout=5)
        self._check_stop()
        self._child = None
        return ChildResult(proc.returncode, timed_out, time.perf_counter() - start, list(tail))

    def python(self, args: list[str], limit: float, soft_stop: bool = False) -> ChildResult:
        return self.child([sys.executable, *args], limit, soft_stop)

    def checked(self, res: ChildResult, what: str, limit: float) -> None:
        if res.timed_out:
            raise StepError(f"{what} stopped at its time limit ({limit:.0f} s)")
        if res.returncode != 0:
            last = "\n".join(res.tail[-12:])
            raise StepError(f"{what} exited with code {res.returncode}; its last lines:\n{last}")

    def json_child(self, args: list[str], limit: float, name: str) -> dict:
        """A benchmarks/ script run with --json; its result, or StepError."""
        path = self.work / f"{name}.json"
        path.unlink(missing_ok=True)
        res = self.python([*args, "--json", str(path)], limit)
        if path.exists() and (res.timed_out or res.returncode != 0):
            # A script that writes as it goes (sampler_throughput.py) kept what it finished.
            partial = json.loads(path.read_text())
            reason = "time limit" if res.timed_out else f"exit code {res.returncode}"
            partial["_status"] = "partial"
            partial["_note"] = f"stopped by {reason}: the rows it finished"
            return partial
        self.checked(res, Path(args[0]).name, limit)
        return json.loads(path.read_text())

    # -- the steps --------------------------------------------------------------------------

    def _stop(self, signum: int, frame) -> None:
        """A signal handler that only kills the child and notes the signal: raising here could
        leave a child just forked, and not yet recorded, running on without the suite."""
        self._stop_signal = signum
        if self._child is not None:  # its own process group: it would run on without us
            _signal_group(self._child.pid, signal.SIGKILL)

    def _check_stop(self) -> None:
        if self._stop_signal is not None:
            if self._child is not None:
                _signal_group(self._child.pid, signal.SIGKILL)
            raise Stopped(self._stop_signal)

    def run(self) -> int:
        r = self.result
        self.log(f"metarl GPU suite: device {self.args.device}, budget {self.args.budget:.0f} s")
        self.save()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._stop)
        code = 0
        try:
            self.step("install", r["install"], self.install)
            self.step("machine", r["machine"], self.machine)
            self.step("agreement", r["agreement"], self.agreement)
            for algo in ALGOS:
                self.iteration_time(algo, "paper", "device")
            self.step(
                "paper_protocol/device", r["paper_protocol"]["device"], self.long_run("device")
            )
            for algo in ALGOS:
                self.iteration_time(algo, "x10", "device")
            # The steps with a goal come first; then what explains a miss; then the rest.
            self.step("sampler", r["sampler"], self.sampler)
            self.step("profile", r["profile"], self.profile)
            self.step("cheetah_iteration", r["cheetah_iteration"], self.cheetah_iteration)
            for scale in SCALES:
                for algo in ALGOS:
                    self.iteration_time(algo, scale, "cpu")
            self.step("paper_protocol/cpu", r["paper_protocol"]["cpu"], self.long_run("cpu"))
        except Stopped as err:
            r["suite"]["stopped_by"] = str(err)
            self.log(f"Stopped by {err}: the JSON holds the steps done so far.")
            code = 128 + err.signum
        finally:
            for leaf in _leaves(r):
                if leaf["status"] == "pending":
                    leaf["status"] = "skipped"
            r["suite"]["finished_utc"] = _now()
            r["suite"]["wall_s"] = time.perf_counter() - self.start
            self.save()
            shutil.rmtree(self.work, ignore_errors=True)  # run dirs, child JSON, installed deps
        self.log(f"Wrote {self.json_path} and {self.out / 'gpu_suite.log'}")
        self.log(summary_text(r))
        self.log_file.close()
        return code

    def device_for(self, role: str) -> str:
        return self.args.device if role == "device" else "cpu"

    def install(self, limit: float) -> dict:
        """Installs what this Python lacks of metarl's requirements from .whl/ (into a prefix
        beside it: the machine's own packages stay as they are)."""
        wheels = sorted(self.args.wheels.glob("*.whl"))
        requirements = project_requirements()
        result: dict = {"wheels_dir": str(self.args.wheels), "wheels": [w.name for w in wheels]}
        if not wheels:
            res = self.python(["-c", IMPORT_CHECK], limit)
            if res.returncode != 0:
                raise StepError(
                    f"metarl's requirements do not import here and {self.args.wheels} holds no "
                    "wheels. Fill it where pip can reach an index with `bash benchmarks/"
                    "gpu_suite.sh --download-wheels`, then carry .whl/ with the tree."
                )
            return {**result, "_note": "nothing to install: the requirements import already"}
        prefix = self.work / "site"
        res = self.python(
            [
                "-m",
                "pip",
                "install",
                "--no-index",
                "--find-links",
                str(self.args.wheels),
                "--prefix",
                str(prefix),
                "--no-compile",
                "--disable-pip-version-check",
                *requirements,
            ],
            limit,
        )
        if res.returncode != 0 and not res.timed_out:
            missing = [ln for ln in res.tail if "No matching distribution" in ln]
            raise StepError(
                f"pip could not install {' '.join(requirements)} from {self.args.wheels}: "
                + ("; ".join(missing) or "\n".join(res.tail[-8:]))
                + ". Add what is missing with `bash benchmarks/gpu_suite.sh --download-wheels "
                "--all` (if it fits) and carry .whl/ again."
            )
        self.checked(res, "pip install", limit)
        paths = {
            sysconfig.get_paths(scheme=_scheme(), vars={"base": prefix, "platbase": prefix})[k]
            for k in ("purelib", "platlib")
        }
        installed = sorted(
            p.name.split("-")[0]
            for d in paths
            if Path(d).is_dir()
            for p in Path(d).glob("*.dist-info")
        )
        self.env["PYTHONPATH"] = os.pathsep.join([*sorted(paths), self.env["PYTHONPATH"]])
        check = self.python(["-c", IMPORT_CHECK], max(limit - res.wall_s, MIN_STEP_S))
        if check.returncode != 0:
            raise StepError(
                f"pip installed {', '.join(installed) or 'nothing'} into {prefix}, but the "
                "requirements still do not import:\n" + "\n".join(check.tail[-8:])
            )
        return {
            **result,
            "requirements": requirements,
            "prefix": str(prefix),
            "installed": installed,
        }

    def machine(self, limit: float) -> dict:
        return self.json_child([str(BENCH / "machine_info.py")], limit, "machine")

    def agreement(self, limit: float) -> dict:
        xml = self.work / "agreement.xml"
        res = self.python(
            [
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "addopts=",
                f"--junitxml={xml}",
                *AGREEMENT_TESTS,
            ],
            limit,
        )
        if not xml.exists():
            self.checked(res, "pytest", limit)
            raise StepError(f"pytest wrote no report (exit code {res.returncode})")
        tests = parse_junit(xml)
        counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "skipped")}
        if counts["failed"]:
            passed: bool | None = False
        elif counts["skipped"] or not tests:
            passed = None  # no verdict: the CUDA tests did not run (no GPU)
        else:
            passed = True
        out = {"passed": passed, "counts": counts, "tests": tests, "exit_code": res.returncode}
        if res.timed_out:
            out["_status"] = "partial"
            out["_note"] = "pytest stopped at its time limit"
        elif passed is None:
            out["_note"] = "CUDA tests skipped on this machine: no verdict on agreement"
        return out

    def iteration_time(self, algo: str, scale: str, role: str) -> None:
        sizes = self.sizes
        meta_batch = sizes.meta_batch * (10 if scale == "x10" else 1)
        overrides = [*sizes.overrides, f"sampler.meta_batch_size={meta_batch}"]
        leaf = self.result["iteration_time"][algo][scale][role]

        def fn(limit: float) -> dict:
            args = [
                str(BENCH / "iteration_time.py"),
                "--algo",
                algo,
                "--device",
                self.device_for(role),
                "--iterations",
                str(sizes.iterations),
                "--warmup",
                str(sizes.warmup[f"{scale}/{role}"]),
                # Half the limit for the timed iterations: startup and warm-up take the rest.
                "--max-seconds",
                f"{limit / 2:.1f}",
                "--set",
                *overrides,
            ]
            result = self.json_child(args, limit, f"it-{algo}-{scale}-{role}")
            if result["stopped_by_max_seconds"]:
                result["_status"] = "partial"
                result["_note"] = (
                    f"median of {result['iterations']} iterations, not {sizes.iterations}: "
                    "the rest did not fit in the time limit"
                )
            return result

        self.step(f"iteration_time/{algo}/{scale}/{role}", leaf, fn)

    def long_run(self, role: str) -> Callable[[float], dict]:
        def fn(limit: float) -> dict:
            device = self.device_for(role)
            planned = self.sizes.long_run_iterations
            note = None
            if role == "cpu":  # last in line: as many iterations as the time left allows
                planned, note = self._fit_iterations(limit)
            root = self.work / f"runs-{role}"
            out_json = self.work / f"paper-{role}.json"
            args = [
                str(BENCH / "paper_protocol.py"),
                "run",
                "--algo",
                "meta-sgd",
                "--seed",
                "0",
                "--root",
                str(root),
                "--json",
                str(out_json),
                "--",
                "--iterations",
                str(planned),
                "--device",
                device,
                "--set",
                "log.checkpoint_every=100000",  # one checkpoint, at the end (or at a stop)
                *self.sizes.overrides,
                f"sampler.meta_batch_size={self.sizes.meta_batch}",
                *self.sizes.long_run_overrides,
            ]
            res = self.python(args, max(limit - EVAL_RESERVE_S, 1.0), soft_stop=True)
            if res.returncode != 0 and not res.timed_out:  # failed, not stopped for time
                self.checked(res, "paper_protocol.py run", limit)
            summary = json.loads(out_json.read_text()) if out_json.exists() else {}
            run_dir = summary.get("run_dir") or _latest_run_dir(root)
            if run_dir is None:
                raise StepError("train.py was stopped before it made its run directory")
            if not summary.get("adaptation"):
                # Stopped early: evaluate the checkpoint it saved, then summarise again.
                left = limit - (res.wall_s + 2)
                ev = self.python(
                    ["-m", "metarl.evaluate", str(run_dir), "--device", device], left * 0.8
                )
                self.checked(ev, "metarl.evaluate", left * 0.8)
                summary.update(
                    self.json_child(
                        [str(BENCH / "paper_protocol.py"), "summary", str(run_dir)],
                        max(left * 0.2, 5.0),
                        f"summary-{role}",
                    )
                )
            # train.py's own wall time when the wrapper recorded it, else the child's.
            summary.setdefault("command_wall_s", res.wall_s)
            summary.setdefault("exit_code", res.returncode)
            summary["iterations_target"] = target = self.sizes.long_run_iterations
            done = summary.get("iterations_done", 0)
            if done < target:
                why = "shortened for time" if done == planned else "stopped at its time limit"
                summary["_status"] = "partial"
                summary["_note"] = f"{done} of {target} iterations ({why})" + (
                    f"; {note}" if note else ""
                )
            elif note:
                summary["_note"] = note
            return summary

        return fn

    def _fit_iterations(self, limit: float) -> tuple[int, str | None]:
        """How many iterations of the CPU long run fit in `limit` seconds, from the measured
        Meta-SGD seconds per iteration on the CPU (startup and evaluation kept aside)."""
        target = self.sizes.long_run_iterations
        leaf = self.result["iteration_time"]["meta-sgd"]["paper"]["cpu"]
        if not leaf["result"]:
            return target, "no CPU seconds per iteration measured to plan with"
        per_it = leaf["result"]["s_per_iteration_median"] * 1.15  # margin for slower iterations
        # The child stops EVAL_RESERVE_S before the limit; start-up and the evaluation at the
        # end of train.py take about LONG_RUN_OVERHEAD_S of the rest.
        fit = int((limit - EVAL_RESERVE_S - LONG_RUN_OVERHEAD_S) / per_it)
        if fit >= target:
            return target, None
        fit = max(fit, 1)
        return fit, f"planned {fit} iterations at {per_it:.2f} s each to fit {limit:.0f} s"

    def profile(self, limit: float) -> dict:
        args = [
            str(BENCH / "profile_iteration.py"),
            "--algo",
            "maml",
            "--device",
            self.args.device,
            "--top",
            "15",
            "--set",
            *self.sizes.overrides,
            f"sampler.meta_batch_size={self.sizes.meta_batch}",
        ]
        return self.json_child(args, limit, "profile")

    def sampler(self, limit: float) -> dict:
        args = [str(BENCH / "sampler_throughput.py"), "--env", "cheetah-vel"]
        return self.json_child([*args, *self.sizes.sampler_args], limit, "sampler")

    def cheetah_iteration(self, limit: float) -> dict:
        args = [
            str(BENCH / "iteration_time.py"),
            "--algo",
            "maml",
            "--env",
            "cheetah-vel",
            "--device",
            self.args.device,
            *self.sizes.cheetah_args,
        ]
        return self.json_child(args, limit, "cheetah")


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _scheme() -> str:
    return "nt" if os.name == "nt" else "posix_prefix"


def _latest_run_dir(root: Path) -> str | None:
    runs = sorted(root.glob("point-goal/*/*/config.yaml"), key=lambda p: p.stat().st_mtime)
    return str(runs[-1].parent) if runs else None


def _leaves(node: dict):
    if "status" in node and "budget_s" in node:
        yield node
        return
    for value in node.values():
        if isinstance(value, dict):
            yield from _leaves(value)


def parse_junit(path: Path) -> list[dict]:
    tests = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", None
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = "skipped" if tag == "skipped" else "failed"
                message = (node.get("message") or "")[:300]
                break
        name = f"{case.get('classname')}::{case.get('name')}"
        tests.append({"name": name, "outcome": outcome, "message": message})
    return tests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bash benchmarks/gpu_suite.sh",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--device", default="cuda", help="the device under test (default: cuda)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke test of each step")
    parser.add_argument(
        "--budget", type=float, default=480.0, help="seconds for everything (default: 480)"
    )
    parser.add_argument(
        "--limit-scale",
        type=float,
        default=1.0,
        help="multiply every step's time limit (for a slow or shared machine; default: 1)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get("OUT") or ROOT / "bench_out" / "gpu_suite"),
        help="where gpu_suite.json and gpu_suite.log go (default: $OUT, else bench_out/gpu_suite)",
    )
    parser.add_argument(
        "--wheels", type=Path, default=ROOT / ".whl", help="wheels to install from (.whl/)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="STEP",
        help="run only the steps whose id starts with one of these (e.g. sampler, "
        "iteration_time/maml, paper_protocol/device); install and machine always run",
    )
    return Suite(parser.parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
