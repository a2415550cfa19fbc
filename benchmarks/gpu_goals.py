"""The GPU suite's targets, checked against its JSON (benchmarks/gpu_suite.py), and its summary."""

from __future__ import annotations

ALGOS = ("maml", "meta-sgd", "reptile")
# docs/benchmarks.md, 2 cores of an AMD EPYC, commit cfdbfc0: seconds per point-goal
# meta-iteration at 10x the paper's meta-batch (200 tasks x 20 trajectories).
TWO_CORE_X10_S = {"maml": 3.81, "meta-sgd": 3.56, "reptile": 1.39}
TARGETS = {
    "maml_paper_s_per_iteration_max": 0.1,
    "paper_protocol_500_s_max": 60.0,
    "x10_speedup_vs_2core_min": 10.0,
    "sampler_efficiency_min": 0.8,
}


def _get(result: dict, *path: str):
    node = result
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def goals(result: dict) -> dict:
    """The targets against the figures measured (None where a figure is missing)."""

    def it(algo: str, scale: str, role: str) -> float | None:
        return _get(result, "iteration_time", algo, scale, role, "result", "s_per_iteration_median")

    maml = it("maml", "paper", "device")
    cap = TARGETS["maml_paper_s_per_iteration_max"]
    out: dict = {
        "maml_paper_s_per_iteration": {
            "target": f"<= {cap} s",
            "value": maml,
            "met": None if maml is None else maml <= cap,
        }
    }
    run = _get(result, "paper_protocol", "device", "result") or {}
    done, planned = run.get("iterations_done"), run.get("iterations_planned")
    wall = run.get("command_wall_s")
    cap = TARGETS["paper_protocol_500_s_max"]
    complete = bool(done) and done == planned == 500
    out["paper_protocol_500_s"] = {
        "target": f"< {cap} s for 500 iterations, end to end (train.py and its evaluation)",
        "value": wall if complete else None,
        "loop_s": run.get("loop_s"),
        "iterations_done": done,
        "estimate_for_500_s": run["loop_s"] / done * 500 if done else None,
        "met": (wall < cap) if complete and wall is not None else None,
    }
    speed: dict = {}
    for algo in ALGOS:
        device, cpu = it(algo, "x10", "device"), it(algo, "x10", "cpu")
        ref = TWO_CORE_X10_S[algo]
        speedup = ref / device if device else None
        speed[algo] = {
            "two_core_s": ref,
            "device_s": device,
            "cpu_here_s": cpu,
            "speedup_vs_2core": speedup,
            "speedup_vs_cpu_here": cpu / device if cpu and device else None,
            "met": None if speedup is None else speedup >= TARGETS["x10_speedup_vs_2core_min"],
        }
    out["x10_speedup_vs_2core"] = {
        "target": f">= {TARGETS['x10_speedup_vs_2core_min']}x (2-core machine, commit cfdbfc0)",
        "per_algo": speed,
    }
    rows = _get(result, "sampler", "result", "sampler") or []
    floor = TARGETS["sampler_efficiency_min"]
    out["sampler_efficiency"] = {
        "target": f">= {floor:.0%} of raw single-process env.step x workers",
        "per_workers": {
            str(row["workers"]): {
                "efficiency": row["efficiency"],
                "met": row["efficiency"] >= floor,
            }
            for row in rows
        },
        "met": all(row["efficiency"] >= floor for row in rows) if rows else None,
    }
    out["note"] = None
    if _get(result, "suite", "tiny"):
        _no_verdict(out)
        out["note"] = "tiny sizes (--tiny): the figures are not comparable with the targets"
    return out


def _no_verdict(node: dict) -> None:
    for key, value in node.items():
        if key == "met":
            node[key] = None
        elif isinstance(value, dict):
            _no_verdict(value)


def summary_text(result: dict) -> str:
    """A few lines for the console: each step's status, and the goals."""
    lines = ["Steps:"]

    def walk(node: dict, path: str) -> None:
        if "status" in node and "budget_s" in node:
            wall = f"{node['wall_s']:.1f} s" if node["wall_s"] is not None else "-"
            lines.append(f"  {path:<36} {node['status']:<8} {wall}")
            return
        for key, value in node.items():
            if isinstance(value, dict) and key not in ("suite", "goals"):
                walk(value, f"{path}/{key}" if path else key)

    walk(result, "")
    g = result["goals"]

    def fmt(value: float | None, spec: str = ".3f") -> str:
        return "-" if value is None else format(value, spec)

    m, p = g["maml_paper_s_per_iteration"], g["paper_protocol_500_s"]
    lines.append("Goals (met: True / False / None = not measured):")
    if g["note"]:
        lines.append(f"  {g['note']}")
    lines.append(f"  MAML-TRPO point-goal iteration {fmt(m['value'])} s, {m['target']}: {m['met']}")
    lines.append(
        f"  500-iteration Meta-SGD run {fmt(p['value'], '.1f')} s (estimate "
        f"{fmt(p['estimate_for_500_s'], '.1f')} s), {p['target']}: {p['met']}"
    )
    for algo, row in g["x10_speedup_vs_2core"]["per_algo"].items():
        lines.append(
            f"  10x meta-batch {algo}: {fmt(row['device_s'])} s, "
            f"{fmt(row['speedup_vs_2core'], '.1f')}x the 2-core machine's "
            f"{row['two_core_s']} s: {row['met']}"
        )
    for workers, row in g["sampler_efficiency"]["per_workers"].items():
        lines.append(
            f"  sampler, {workers} workers: {row['efficiency']:.0%} of raw x workers: {row['met']}"
        )
    if result["skipped_for_time"]:
        lines.append("Skipped or cut short for time: " + "; ".join(result["skipped_for_time"]))
    return "\n".join(lines)
