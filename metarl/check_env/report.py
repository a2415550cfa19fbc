"""The checker's findings: the Report, how one finding reads, and the stop signal."""

from __future__ import annotations

from dataclasses import dataclass, field


class EnvCheckWarning(UserWarning):
    """A soft finding of the env checker, issued when check_family runs for the trainer."""


@dataclass
class Report:
    """The findings of one check: errors make the family unusable, warnings are likely bugs."""

    name: str = "env"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What metarl does to run the family (e.g. convert an old-gym env): neither errors nor
    warnings."""
    tracebacks: list[str] = field(default_factory=list)
    """Tracebacks of exceptions raised inside the env (shown by `--debug`)."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self) -> str:
        lines = [f"ERROR: {e}" for e in self.errors] + [f"WARNING: {w}" for w in self.warnings]
        return "\n".join([*(f"NOTE: {n}" for n in self.notes), *(lines or ["OK"])])

    def summary(self) -> str:
        counts = f"{plural(len(self.errors), 'error')}, {plural(len(self.warnings), 'warning')}"
        if self.errors:
            return f"{counts}: {self.name} is not a usable task family."
        if self.warnings:
            return f"{counts}: {self.name} is usable, but check the warnings."
        return f"{counts}: {self.name} is a usable task family."


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def finding(where: str, expected: str, got: str, cause: str, fix: str) -> str:
    return f"{where}: expected {expected}, got {got}. Likely cause: {cause}. Fix: {fix}."


class StopChecks(Exception):
    """An error after which the remaining checks cannot run."""
