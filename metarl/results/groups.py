"""Runs grouped for comparison: family x algorithm x every config key whose value differs among
the runs of that family and algorithm. The seeds of one group are its repetitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metarl.results.runs import RunRecord
from metarl.tb_layout import is_run_only


@dataclass
class Group:
    family: str
    algo: str
    settings: dict[str, Any] = field(default_factory=dict)
    """The differing config keys and this group's values of them."""
    runs: list[RunRecord] = field(default_factory=list)

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k}={_text(v)}" for k, v in self.settings.items())
        return f"{self.algo} ({extra})" if extra else self.algo

    @property
    def seeds(self) -> list[int]:
        return [run.seed for run in self.runs]


def _text(value: Any) -> str:
    return str(value).replace(" ", "")


def _relevant(key: str) -> bool:
    """The seed is what a group repeats over; run-only keys do not change the results, and the
    task set is chosen when the runs are read (every run is reported on the same one)."""
    return key not in ("seed", "eval.tasks") and not is_run_only(key)


def group_runs(runs: list[RunRecord]) -> list[Group]:
    """Groups in order of family, then algorithm, then settings."""
    by_pair: dict[tuple[str, str], list[RunRecord]] = {}
    for run in runs:
        by_pair.setdefault((run.family, run.algo), []).append(run)
    groups: list[Group] = []
    for (family, algo), members in sorted(by_pair.items()):
        keys = sorted({k for run in members for k in run.config if _relevant(k)})
        differing = [k for k in keys if len({repr(run.config.get(k)) for run in members}) > 1]
        by_settings: dict[tuple, Group] = {}
        for run in sorted(members, key=lambda r: (r.seed, str(r.path))):
            settings = {k: run.config.get(k) for k in differing}
            key = tuple(repr(v) for v in settings.values())
            by_settings.setdefault(key, Group(family, algo, settings)).runs.append(run)
        groups.extend(by_settings[key] for key in sorted(by_settings))
    return groups
