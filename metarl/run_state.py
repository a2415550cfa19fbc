"""Everything a checkpoint holds to continue a run exactly, and putting it back.

Policy and meta-parameters (Meta-SGD step sizes, the LSTM rule's weights), the outer optimiser's
state, the iteration counter, the env-step total, the config, and every random state the run
draws from: torch's, numpy's and Python's global generators, the task sampler's generator, the
action-noise generator and the batched env's reset counter (a supervised family: the example
sampler's generator). (The linear baseline is refitted on every batch, so it has no state to keep;
TRPO keeps none between iterations.)
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from metarl.config import Config
from metarl.errors import MetaRLError

if TYPE_CHECKING:
    from metarl.run import Run


def capture(run: Run, iteration: int, env_steps_total: float) -> dict[str, Any]:
    np_state = list(np.random.get_state())
    np_state[1] = torch.from_numpy(np_state[1].astype(np.int64))  # weights_only has no ndarray
    return {
        "format": 1,
        "iteration": iteration,
        "env_steps_total": env_steps_total,
        "policy": run.policy.state_dict(),
        "algo": run.algo.extra_state(),
        "config": run.cfg.to_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "numpy": np_state,
            "python": random.getstate(),
            "tasks": run.task_rng.bit_generator.state,
            "sampler": run.sampler.state_dict(),
        },
    }


def restore(run: Run, state: dict[str, Any], source: Path | str = "the checkpoint") -> None:
    """Puts `state` back into `run`, after checking that all of it fits (nothing is restored from
    a checkpoint that does not)."""
    validate(run, state, source)
    run.policy.load_state_dict(state["policy"])
    run.algo.load_extra_state(state["algo"])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(rng["python"])
    run.task_rng.bit_generator.state = rng["tasks"]
    run.sampler.load_state_dict(rng["sampler"])


class CheckpointMismatch(MetaRLError):
    """A checkpoint that loads but does not fit the run: other keys, types or shapes."""


def validate(run: Run, state: dict[str, Any], source: Path | str) -> None:
    """Checks every part of `state` against what this run's own checkpoint would hold."""
    expected = capture(run, 0, 0.0)
    found: list[str] = []
    for key in ("iteration", "env_steps_total"):
        value = state.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            found.append(f"{key}: expected a count >= 0, found {_describe(value)}")
    config = state.get("config")
    if not isinstance(config, dict):
        found.append(f"config: expected the run's config, found {_describe(config)}")
    else:
        defaults = Config().to_dict()
        for key in ("algo", "env", "policy"):
            recorded = config.get(key)
            if isinstance(recorded, dict):
                # A key added to metarl after the checkpoint was written takes its default,
                # which every option keeps equal to the behaviour before it existed.
                recorded = {**defaults[key], **recorded}
            if recorded != expected["config"][key]:
                found.append(
                    f"config.{key}: expected {expected['config'][key]!r}, found {config.get(key)!r}"
                )
    adam = expected["algo"].pop("adam", None)
    _compare(expected["policy"], state.get("policy"), "policy", found)
    _compare(expected["algo"], _without(state.get("algo"), "adam"), "algo", found)
    if adam is not None:
        _compare_adam(run.algo.meta_parameters(), _get(state, "algo", "adam"), found)
    _compare(expected["rng"], state.get("rng"), "rng", found)
    if found:
        shown = "; ".join(found[:8]) + (f"; and {len(found) - 8} more" if len(found) > 8 else "")
        cfg = run.cfg
        raise CheckpointMismatch(
            f"Checkpoint '{source}' does not fit this run ({cfg.algo} on {cfg.env.name}, hidden "
            f"sizes {cfg.policy.hidden_sizes}): {shown}. Nothing was restored. It was written by "
            "another run or another version of metarl, or was altered; use a checkpoint of this "
            "run (the one its config.yaml describes)."
        )


def validate_policy(policy: torch.nn.Module, state: dict[str, Any], source: Path | str) -> None:
    """The policy part of `validate`, for evaluation (which builds no learner)."""
    found: list[str] = []
    _compare(policy.state_dict(), state.get("policy"), "policy", found)
    if found:
        raise CheckpointMismatch(
            f"Checkpoint '{source}' does not fit the policy of its run's config.yaml: "
            f"{'; '.join(found[:8])}. Use a checkpoint of this run."
        )


def _compare(expected: Any, found: Any, where: str, problems: list[str]) -> None:
    """Appends to `problems` where `found` differs from `expected` in structure, type or shape."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(found, torch.Tensor):
            problems.append(f"{where}: expected a tensor, found {_describe(found)}")
        elif found.shape != expected.shape or found.dtype != expected.dtype:
            problems.append(f"{where}: expected {_tensor(expected)}, found {_tensor(found)}")
    elif isinstance(expected, dict):
        if not isinstance(found, dict):
            problems.append(f"{where}: expected a mapping, found {_describe(found)}")
            return
        missing = [str(k) for k in expected if k not in found]
        extra = [str(k) for k in found if k not in expected]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
        if extra:
            problems.append(f"{where}: unexpected {', '.join(extra)}")
        for key in expected:
            if key in found:
                _compare(expected[key], found[key], f"{where}.{key}", problems)
    elif isinstance(expected, list | tuple):
        if not isinstance(found, list | tuple) or len(found) != len(expected):
            problems.append(
                f"{where}: expected a sequence of {len(expected)}, found {_describe(found)}"
            )
            return
        for i, (e, f) in enumerate(zip(expected, found)):
            _compare(e, f, f"{where}[{i}]", problems)
    elif not _same_kind(expected, found):
        problems.append(f"{where}: expected {_describe(expected)}, found {_describe(found)}")


def _same_kind(expected: Any, found: Any) -> bool:
    """Scalars: the same kind of value (an int where an int is expected; any number where a float
    or an optional float, such as Python's cached Gaussian, is expected)."""
    if isinstance(expected, bool) or isinstance(found, bool):
        return type(expected) is type(found)
    if isinstance(expected, int):
        return isinstance(found, int)
    if expected is None or isinstance(expected, float):
        return found is None or isinstance(found, int | float)
    return type(found) is type(expected)


def _compare_adam(params: list[torch.Tensor], found: Any, problems: list[str]) -> None:
    """Adam's state holds per-parameter moments only after its first step, so it is checked
    against the meta-parameters rather than against a fresh optimiser's (empty) state."""
    if not isinstance(found, dict) or not isinstance(found.get("state"), dict):
        problems.append(f"algo.adam: expected Adam's state_dict, found {_describe(found)}")
        return
    groups = found.get("param_groups")
    indices = groups[0].get("params") if isinstance(groups, list) and groups else None
    if not isinstance(indices, list) or len(indices) != len(params):
        problems.append(f"algo.adam.param_groups: expected one group of {len(params)} parameters")
        return
    for index, moments in found["state"].items():
        if not isinstance(index, int) or not 0 <= index < len(params):
            problems.append(f"algo.adam.state: unexpected parameter index {index!r}")
            continue
        for name in ("exp_avg", "exp_avg_sq"):
            _compare(
                params[index].detach(),
                _get(moments, name),
                f"algo.adam.state.{index}.{name}",
                problems,
            )


def _get(state: Any, *keys: str) -> Any:
    for key in keys:
        state = state.get(key) if isinstance(state, dict) else None
    return state


def _without(state: Any, key: str) -> Any:
    return {k: v for k, v in state.items() if k != key} if isinstance(state, dict) else state


def _tensor(t: torch.Tensor) -> str:
    return f"shape {list(t.shape)} {str(t.dtype).removeprefix('torch.')}"


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of {_tensor(value)}"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    if isinstance(value, list | tuple):
        return f"a sequence of {len(value)}"
    return f"{value!r} ({type(value).__name__})"
