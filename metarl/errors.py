"""Errors a user can act on. Each message says what was expected, what came, and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MetaRLError(Exception):
    """Base class: the CLI prints these as one paragraph (no traceback unless --debug)."""


class ConfigError(MetaRLError, ValueError):
    """A config file, CLI override or name that cannot be used."""


class EnvError(MetaRLError):
    """A task family that does not honour the contract (see metarl.check_env)."""


class SubEnvError(EnvError):
    """A sub-env raised: names the sub-env, its task and what it raised."""


class WorkerError(EnvError):
    """A sampler worker (process or Ray actor) raised or died; all of them have been shut down."""


class ActorLost(WorkerError):
    """A batched env lost a worker mid-phase and replaced it: the phase can be sampled again."""


class CheckpointError(MetaRLError):
    """A checkpoint that cannot be read, or that does not belong to the run."""


class NumericalError(MetaRLError, FloatingPointError):
    """A NaN or inf appeared in the run."""


class ResultsError(MetaRLError):
    """Run directories or result files that metarl-results / metarl-render cannot use."""


def unknown_name(kind: str, got: str, valid: Iterable[str], hint: str = "") -> ConfigError:
    """'Unknown <kind> 'x'. Did you mean 'y'? Valid choices: a, b, c.' as a ConfigError."""
    valid = sorted(valid)
    close = difflib.get_close_matches(got, valid, n=1)
    suggestion = f" Did you mean '{close[0]}'?" if close else ""
    message = f"Unknown {kind} '{got}'.{suggestion} Valid choices: {', '.join(valid)}."
    return ConfigError(message + (f" {hint}" if hint else ""))


class RunDirError(MetaRLError):
    """A run directory that cannot be written now: in use by another process, read-only, full."""
