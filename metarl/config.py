"""Typed config tree (env / sampler / policy / inner / outer / eval / log), YAML plus CLI overrides.

Defaults are the MAML paper's point-goal protocol. A YAML file or `--set section.key=value`
overrides them; unknown keys and values of the wrong type are rejected with the valid choices.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
import types
import typing
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from metarl import storage
from metarl.errors import ConfigError, unknown_name

ALGOS = ("maml", "meta-sgd", "reptile", "meta-lstm")
CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
"""The shipped configs, <algo>/<env>.yaml (the repository's configs/ folder, installed with the
package as metarl/configs)."""
BACKENDS = ("local", "ray")
# What differs from the dataclass defaults per algorithm, applied before any YAML file, so that an
# env without a config of its own (a custom family) still gets settings that work.
ALGO_DEFAULTS: dict[str, dict[str, Any]] = {
    "reptile": {"inner": {"steps": 3}, "outer": {"optimizer": "adam", "lr": 0.003}},
}


class ConfigWarning(UserWarning):
    """No shipped config for the (algo, env) pair: the run uses the generic defaults."""


@dataclass
class EnvConfig:
    name: str = "point-goal"
    """Task family: a built-in name, 'package.module:ClassName' or a Gymnasium id."""
    horizon: int | None = None
    """Steps per episode; None takes the family's own (Gymnasium registration or `horizon`
    attribute), else 200."""
    imports: list[str] = field(default_factory=list)
    """Modules imported before the env is resolved, e.g. ones that call metarl.register()."""


@dataclass
class SamplerConfig:
    meta_batch_size: int = 20
    """Tasks per meta-iteration (N)."""
    episodes_per_task: int = 20
    """Trajectories per task and per inner step (K)."""
    num_workers: int | None = None
    """Worker processes (backend local) or Ray actors (backend ray) that step Gymnasium task
    families (null: one per CPU, of the Ray cluster with ray; 0: step them in the main process,
    local only). Families with a native batched env (point-goal) ignore it."""
    backend: str = "local"
    """Where the workers run: 'local' (processes of this machine) or 'ray' (actors on a Ray
    cluster; pip install "metarl[ray]"). Both give the same episodes; see docs/scaling.md."""
    ray_address: str | None = None
    """Backend ray: the cluster to join ('auto': the one `ray start` runs on this machine, or
    HOST:PORT); null: the one RAY_ADDRESS names, else a new local Ray instance."""
    max_retries: int = 2
    """Backend ray: times a sampling phase is sampled again after an actor died in it."""


INIT_SCHEMES = ("torch", "xavier")


@dataclass
class PolicyConfig:
    hidden_sizes: list[int] = field(default_factory=lambda: [100, 100])
    """Units of each hidden layer of the policy MLP."""
    activation: str = "relu"
    """Hidden-layer nonlinearity: 'relu' or 'tanh'."""
    init: str = "torch"
    """Initial weights: 'torch' (nn.Linear's: Kaiming-uniform weights, uniform biases) or
    'xavier' (Glorot-uniform weights, zero biases: rllab's, as the MAML paper's policies)."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy's actions (in the policy's units)."""
    action_scale: float = 1.0
    """Box actions only: the env receives action_scale x the policy's action (then clips it to its
    bounds); log-probabilities stay in the policy's units. 0.1 on point-goal is rllab's
    `normalize` wrapper (the policy's [-1, 1] onto the bounds +-0.1), as the MAML paper ran it."""
    min_std: float | None = None
    """Gaussian policies: a floor on the meta-policy's sigma (policy units), restored after every
    outer update (log_std clamped to log(min_std)); the inner steps may still move the adapted
    sigma below it. null: no floor."""


@dataclass
class InnerConfig:
    lr: float = 0.1
    """Inner step size alpha (Meta-SGD: the initial value of every learned step size)."""
    steps: int = 1
    """Inner policy-gradient steps per meta-iteration, each on fresh trajectories."""
    first_order: bool = False
    """Drop the second-order term of the meta-gradient (FOMAML)."""
    later_lr_scale: float = 1.0
    """Inner steps after the first take the step size times this, in training and in the
    evaluation's trained steps (0.5 with lr 0.1: the MAML paper's test schedule, 0.1 then 0.05,
    trained as well). RL families only."""
    frozen: list[str] = field(default_factory=list)
    """MAML only: policy parameters the inner steps leave unchanged, e.g. [log_std] (adaptation
    moves the Gaussian's mean only; the outer update still learns sigma). Empty: all adapt."""
    loss_steps: str = "last"
    """MAML / Meta-SGD / meta-lstm meta-loss: 'last' (the policy after all inner steps, as in
    the MAML paper) or 'all' (the mean over the policies after each inner step, each on the
    episodes it sampled: MAML++'s multi-step loss, Antoniou et al. 2019). RL families only."""
    gamma: float = 0.99
    """Discount factor of the returns."""
    gae_lambda: float = 1.0
    """GAE lambda of the advantages (1: discounted returns minus the baseline)."""
    normalize_advantages: bool = True
    """Standardise each task's advantages to mean 0, std 1 before the policy gradient."""
    step_size_clamp: list[float] | None = None
    """Meta-SGD only: [min, max] bounds applied to the learned step sizes after every update
    (null: unbounded; their min/max/negative fraction are logged either way)."""
    lstm_hidden_size: int = 8
    """meta-lstm only: hidden units of the LSTM shared by every coordinate."""
    lstm_forget_init: float = 0.999
    """meta-lstm only: the forget gate's initial value, in (0, 1) (1 would be plain gradient
    descent; the input gate starts at inner.lr, which must be < 1)."""


@dataclass
class OuterConfig:
    optimizer: str = "trpo"
    """maml / meta-sgd: 'trpo' or 'adam'; reptile: 'sgd' (theta += lr * mean delta) or 'adam'."""
    lr: float = 0.1
    """Step size of 'adam' and 'sgd' (Reptile's epsilon). Unused by TRPO."""
    rule_lr: float | None = None
    """'adam' only: the step size for the update rule's own parameters (Meta-SGD's step sizes,
    the LSTM rule's weights); null: outer.lr."""
    max_kl: float = 0.01
    """TRPO: the trust region, a bound on the mean KL divergence of the update."""
    cg_iters: int = 10
    """TRPO: conjugate-gradient iterations that solve for the step direction."""
    cg_damping: float = 1e-5
    """TRPO: damping added to the Fisher-vector products (F + damping I)."""
    fisher_subsample: float = 0.1
    """Fraction of each task's episodes used in TRPO's Fisher-vector products (rllab's
    subsample_factor). The gradient and the line search always use every episode."""
    ls_max_steps: int = 15
    """TRPO: backtracking line-search steps tried before the update is rejected."""
    ls_backtrack_ratio: float = 0.8
    """TRPO: factor the step shrinks by at each line-search step."""


@dataclass
class EvalConfig:
    num_tasks: int = 40
    """Held-out tasks, drawn from `seed` (the same tasks for every run)."""
    episodes_per_task: int = 40
    """Episodes per held-out task and per inner step."""
    steps: int = 3
    """Inner steps to evaluate (returns are reported after 0..steps)."""
    later_lr_scale: float = 0.5
    """Step sizes after the first step are scaled by this (paper: 0.1, then 0.05)."""
    seed: int = 12345
    """Seed of the held-out tasks and their episodes."""
    tasks: str = "sampled"
    """'sampled': `num_tasks` tasks drawn from `seed`'s own stream; 'paper': the tasks the MAML
    paper's released evaluation scripts draw (point-goal, cheetah and ant families: its 40 test
    goals), so that a comparison with its numbers is on the same tasks."""
    at_end: bool = True
    """Evaluate the final policy when training ends."""
    every: int = 0
    """Also evaluate during training, every N meta-iterations, on the same held-out tasks
    (0: off). TensorBoard then shows returns/held_out_k0..k{steps} as curves over training."""


EVAL_TASK_SETS = ("sampled", "paper")


@dataclass
class SupervisedConfig:
    """Supervised task families only (sine, classify-2d); RL families ignore it."""

    shots: int = 10
    """K: examples per task the inner steps adapt on (the same K at every inner step)."""
    query: int = 10
    """Examples per task the adapted network is measured on in training (the meta-loss)."""
    eval_shots: list[int] = field(default_factory=lambda: [5, 10, 20])
    """K values evaluation reports (the network is the one trained with `shots`)."""
    eval_query: int = 100
    """Held-out examples per task that evaluation measures the adapted network on."""


@dataclass
class LogConfig:
    root: str = "runs"
    """Run directories go to <root>/<env>/<algo>/<time>-s<seed>/."""
    checkpoint_every: int = 50
    """Write a checkpoint every N meta-iterations."""
    keep_checkpoints: int = 3
    """Iteration checkpoints kept (the newest ones); final.pt is always kept."""
    print_every: int = 1
    """Print a progress line every N meta-iterations."""
    track: bool = False
    """Also log to Weights & Biases (pip install "metarl[wandb]"; WANDB_MODE=offline works with
    no network)."""
    wandb_project: str = "metarl"
    """W&B project the run logs to (with log.track)."""
    wandb_entity: str | None = None
    """W&B team or user (null: your default entity)."""


@dataclass
class Config:
    algo: str = "maml"
    """maml | meta-sgd | reptile | meta-lstm."""
    iterations: int = 500
    """Meta-iterations (outer updates) to run."""
    seed: int = 0
    """Seed of the run: parameters, task draws and sub-env resets."""
    device: str = "auto"
    """auto (CUDA where present) | cpu | cuda | cuda:N."""
    env: EnvConfig = field(default_factory=EnvConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    inner: InnerConfig = field(default_factory=InnerConfig)
    outer: OuterConfig = field(default_factory=OuterConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    supervised: SupervisedConfig = field(default_factory=SupervisedConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Checks `value` against the annotation `tp`; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str) and item is str:
            value = [value]  # env.imports=mod means [mod]
        if not isinstance(value, list | tuple):
            raise _type_error(key, f"a list of {_type_name(item)}", value)
        return [_coerce(v, item, key) for v in value]
    if tp is bool:
        if not isinstance(value, bool):
            raise _type_error(key, "true or false", value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(key, "an integer", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(key, "a number", value)
        if not math.isfinite(value):
            raise _type_error(key, "a finite number", value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _type_error(key, "a string", value)
        return value
    raise TypeError(f"unsupported config type {tp} for {key}")


def _type_error(key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(
        f"Config key '{key}' expects {expected}, got {value!r} ({type(value).__name__}). "
        f"Fix the value in the YAML file or the override (e.g. --set {key}=...)."
    )


def _unknown_key(key: str, valid: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"Unknown config key '{key}'.{hint} Valid keys: {', '.join(sorted(valid))}.")


def all_keys(obj: Any = None, prefix: str = "") -> list[str]:
    """Every settable dotted key, e.g. 'inner.lr'."""
    obj = obj if obj is not None else Config()
    keys = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            keys.extend(all_keys(value, f"{prefix}{f.name}."))
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def set_key(cfg: Config, key: str, value: Any) -> None:
    """Sets a dotted key with type checking."""
    parts = key.split(".")
    node: Any = cfg
    for part in parts[:-1]:
        sub = getattr(node, part, None) if part in {f.name for f in fields(node)} else None
        if not dataclasses.is_dataclass(sub):
            raise _unknown_key(key, all_keys())
        node = sub
    hints = typing.get_type_hints(type(node))
    names = {f.name for f in fields(node)}
    if parts[-1] not in names:
        raise _unknown_key(key, all_keys())
    section = getattr(node, parts[-1])
    if dataclasses.is_dataclass(section):
        inner = ", ".join(f.name for f in fields(section))
        raise ConfigError(
            f"Config key '{key}' is a section: it expects a mapping of its keys ({inner}), "
            f"got {value!r}. Write e.g. '{key}: {{{fields(section)[0].name}: ...}}' in YAML or "
            f"--set {key}.{fields(section)[0].name}=..."
        )
    setattr(node, parts[-1], _coerce(value, hints[parts[-1]], key))


def apply_dict(cfg: Config, data: dict[str, Any], prefix: str = "") -> None:
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            apply_dict(cfg, v, key + ".")
        else:
            set_key(cfg, key, v)


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"Config path '{path}' is a directory; pass a YAML file to --config.")
    if not path.is_file():
        raise ConfigError(
            f"Config file '{path}' does not exist. Pass an existing YAML file to --config."
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        # PyYAML's own message spans several lines; one line with the position reads better.
        # The context mark is where the broken construct began (e.g. an unclosed bracket).
        mark = getattr(err, "context_mark", None) or getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = getattr(err, "context", None)
        problem = getattr(err, "problem", None) or "a syntax error"
        if context:
            problem = f"{context}, {problem}"
        raise ConfigError(
            f"Config file '{path}' is not valid YAML{where}: {problem}. Check the brackets, "
            "quotes and indentation there."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file '{path}' must hold a mapping of keys, got {type(data).__name__}."
        )
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """'inner.lr=0.05' -> ('inner.lr', 0.05); the value is read as YAML (numbers, lists, bools)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"Override '{text}' is not of the form key=value (e.g. inner.lr=0.05).")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def validate(cfg: Config) -> None:
    """Range checks that types alone cannot express."""
    if cfg.algo not in ALGOS:
        raise unknown_name("algorithm", cfg.algo, ALGOS)
    positive = {
        "iterations": cfg.iterations,
        "sampler.meta_batch_size": cfg.sampler.meta_batch_size,
        "sampler.episodes_per_task": cfg.sampler.episodes_per_task,
        "inner.lr": cfg.inner.lr,
        "outer.lr": cfg.outer.lr,
        "outer.max_kl": cfg.outer.max_kl,
        "outer.cg_iters": cfg.outer.cg_iters,
        "outer.ls_max_steps": cfg.outer.ls_max_steps,
        "eval.num_tasks": cfg.eval.num_tasks,
        "eval.episodes_per_task": cfg.eval.episodes_per_task,
        "log.checkpoint_every": cfg.log.checkpoint_every,
        "log.keep_checkpoints": cfg.log.keep_checkpoints,
        "log.print_every": cfg.log.print_every,
        "inner.lstm_hidden_size": cfg.inner.lstm_hidden_size,
        "supervised.shots": cfg.supervised.shots,
        "supervised.query": cfg.supervised.query,
        "supervised.eval_query": cfg.supervised.eval_query,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"Config key '{key}' must be > 0, got {value}.")
    for key, seed in (("seed", cfg.seed), ("eval.seed", cfg.eval.seed)):
        if not 0 <= seed < 2**32:
            raise ConfigError(f"Config key '{key}' must be in [0, 2**32), got {seed}.")
    if cfg.eval.later_lr_scale <= 0:
        raise ConfigError(
            f"Config key 'eval.later_lr_scale' must be > 0, got {cfg.eval.later_lr_scale}."
        )
    if cfg.outer.rule_lr is not None and cfg.outer.rule_lr <= 0:
        raise ConfigError(
            f"Config key 'outer.rule_lr' must be > 0 or null, got {cfg.outer.rule_lr}."
        )
    if cfg.outer.cg_damping < 0:
        raise ConfigError(
            f"Config key 'outer.cg_damping' must be >= 0, got {cfg.outer.cg_damping}."
        )
    if cfg.inner.steps < 1:
        raise ConfigError(f"Config key 'inner.steps' must be >= 1, got {cfg.inner.steps}.")
    if cfg.inner.later_lr_scale <= 0:
        raise ConfigError(
            f"Config key 'inner.later_lr_scale' must be > 0, got {cfg.inner.later_lr_scale}."
        )
    if cfg.inner.loss_steps not in ("last", "all"):
        raise ConfigError(
            f"Config key 'inner.loss_steps' must be 'last' (the meta-loss of the policy after "
            f"all inner steps) or 'all' (the mean over every step's policy), got "
            f"{cfg.inner.loss_steps!r}."
        )
    if cfg.eval.steps < 0:
        raise ConfigError(f"Config key 'eval.steps' must be >= 0, got {cfg.eval.steps}.")
    if cfg.eval.every < 0:
        raise ConfigError(
            f"Config key 'eval.every' must be >= 0 (0: no evaluation during training), got "
            f"{cfg.eval.every}."
        )
    if cfg.sampler.num_workers is not None and cfg.sampler.num_workers < 0:
        raise ConfigError(
            f"Config key 'sampler.num_workers' must be >= 0 or null (one per CPU), got "
            f"{cfg.sampler.num_workers}."
        )
    _validate_backend(cfg.sampler)
    if cfg.env.horizon is not None and cfg.env.horizon < 1:
        raise ConfigError(f"Config key 'env.horizon' must be >= 1 or null, got {cfg.env.horizon}.")
    for key, value in {
        "inner.gamma": cfg.inner.gamma,
        "inner.gae_lambda": cfg.inner.gae_lambda,
        "outer.ls_backtrack_ratio": cfg.outer.ls_backtrack_ratio,
        "outer.fisher_subsample": cfg.outer.fisher_subsample,
    }.items():
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"Config key '{key}' must be in (0, 1], got {value}.")
    clamp = cfg.inner.step_size_clamp
    if clamp is not None and (len(clamp) != 2 or clamp[0] > clamp[1]):
        raise ConfigError(
            f"Config key 'inner.step_size_clamp' expects [min, max] with min <= max, got {clamp}."
        )
    if not cfg.supervised.eval_shots or min(cfg.supervised.eval_shots) < 1:
        raise ConfigError(
            f"Config key 'supervised.eval_shots' must be a non-empty list of positive K, "
            f"got {cfg.supervised.eval_shots}."
        )
    if cfg.algo == "meta-lstm":
        _validate_lstm_rule(cfg.inner)
    if not cfg.policy.hidden_sizes or min(cfg.policy.hidden_sizes) < 1:
        raise ConfigError(
            f"Config key 'policy.hidden_sizes' must be a non-empty list of positive sizes, "
            f"got {cfg.policy.hidden_sizes}."
        )
    if cfg.policy.action_scale <= 0:
        raise ConfigError(
            f"Config key 'policy.action_scale' must be > 0, got {cfg.policy.action_scale}."
        )
    floor = cfg.policy.min_std
    if floor is not None and not (0 < floor <= math.exp(cfg.policy.init_log_std)):
        raise ConfigError(
            f"Config key 'policy.min_std' must be > 0 and at most the initial sigma "
            f"exp(policy.init_log_std) = {math.exp(cfg.policy.init_log_std):.4g}, got {floor}. "
            f"Lower it, raise policy.init_log_std, or set it to null for no floor."
        )
    if cfg.eval.tasks not in EVAL_TASK_SETS:
        raise unknown_name("eval.tasks", cfg.eval.tasks, EVAL_TASK_SETS)
    if cfg.policy.init not in INIT_SCHEMES:
        raise unknown_name("policy.init", cfg.policy.init, INIT_SCHEMES)
    if cfg.policy.activation not in ("relu", "tanh"):
        raise unknown_name("policy.activation", cfg.policy.activation, ("relu", "tanh"))
    optimizers = ("sgd", "adam") if cfg.algo == "reptile" else ("trpo", "adam")
    if cfg.outer.optimizer not in optimizers:
        raise unknown_name(f"outer.optimizer for {cfg.algo}", cfg.outer.optimizer, optimizers)


def _validate_lstm_rule(inner: InnerConfig) -> None:
    """The LSTM rule's gates are sigmoids: they start at inner.lr and lstm_forget_init."""
    if not inner.lr < 1.0:
        raise ConfigError(
            f"meta-lstm's input gate (its step size) is a sigmoid in (0, 1) that starts at "
            f"inner.lr, so inner.lr must be < 1, got {inner.lr}."
        )
    if not 0.0 < inner.lstm_forget_init < 1.0:
        raise ConfigError(
            f"Config key 'inner.lstm_forget_init' must be in (0, 1) (a sigmoid gate's initial "
            f"value; close to 1 starts as gradient descent), got {inner.lstm_forget_init}."
        )


def _validate_backend(sampler: SamplerConfig) -> None:
    if sampler.backend not in BACKENDS:
        raise unknown_name("sampler.backend", sampler.backend, BACKENDS)
    if sampler.max_retries < 0:
        raise ConfigError(
            f"Config key 'sampler.max_retries' must be >= 0, got {sampler.max_retries}."
        )
    if sampler.backend == "local":
        if sampler.ray_address is not None:
            raise ConfigError(
                f"Config key 'sampler.ray_address' is set ({sampler.ray_address!r}) but "
                "'sampler.backend' is 'local'. Add --sampler ray (sampler.backend=ray) to sample "
                "on that Ray cluster, or drop the address."
            )
        return
    if sampler.num_workers == 0:
        raise ConfigError(
            "Config key 'sampler.num_workers' is 0 (step the envs in the main process), which "
            "the ray backend cannot do. Use N >= 1 actors, or null (one per CPU of the Ray "
            "cluster), or --sampler local."
        )
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(
            "sampler.backend is 'ray' but Ray is not installed. Install it with "
            'pip install "metarl[ray]" (or pip install "ray>=2.9"), or use --sampler local.'
        )


def build_config(
    algo: str | None = None,
    env: str | None = None,
    config_path: str | Path | None = None,
    overrides: list[str] | None = None,
    configs_dir: str | Path | None = None,
) -> Config:
    """Defaults <- YAML (given, or configs_dir/<algo>/<env>.yaml) <- flags <- overrides.

    Without a config file for the pair (a custom family, or a built-in one that has none for this
    algorithm) the run takes the dataclass defaults (plus ALGO_DEFAULTS), and a ConfigWarning
    names the files looked for; a missing configs_dir is an incomplete install and an error.
    """
    cfg = Config()
    data: dict[str, Any] = {}
    if config_path is not None:
        data = load_yaml(config_path)
    elif configs_dir is not None:
        name = cfg.env.name if env is None else env  # '' is a name (refused with the choices)
        data = _shipped_config(Path(configs_dir), algo or cfg.algo, name)
    chosen = algo or data.get("algo", cfg.algo)
    apply_dict(cfg, ALGO_DEFAULTS.get(chosen, {}) if isinstance(chosen, str) else {})
    apply_dict(cfg, data)
    file_env = data.get("env", {}).get("name") if isinstance(data.get("env"), dict) else None
    if env is not None and file_env is not None and file_env != env:
        raise ConfigError(
            f"Config file '{config_path}' is for env '{file_env}', but --env is '{env}'. "
            f"Use the config of '{env}' (configs/<algo>/{env}.yaml) or drop --env."
        )
    file_algo = data.get("algo")
    if algo is not None and file_algo is not None and file_algo != algo:
        raise ConfigError(
            f"Config file '{config_path}' is for algorithm '{file_algo}', but --algo is '{algo}'. "
            f"Use configs/{algo}/<env>.yaml or drop --algo."
        )
    if algo is not None:
        if algo not in ALGOS:
            raise unknown_name("algorithm", algo, ALGOS)
        cfg.algo = algo
    if env is not None:
        cfg.env.name = env
    for text in overrides or []:
        set_key(cfg, *parse_override(text))
    validate(cfg)
    return cfg


def _shipped_config(configs_dir: Path, algo: str, env: str) -> dict[str, Any]:
    """configs_dir/<algo>/<env>.yaml; a parameterised family (ml1/<task>) shares the config of
    its prefix (ml1.yaml). {} where neither exists, with a ConfigWarning for a family that has
    configs for other algorithms (the settings are then not the ones tuned for it)."""
    if not configs_dir.is_dir():
        raise ConfigError(
            f"metarl's config folder '{configs_dir}' does not exist, so the paper configs cannot "
            "be read: the installation is incomplete. Reinstall metarl (pip install "
            "--force-reinstall metarl, or pip install -e . in a checkout), or pass --config FILE."
        )
    folder = configs_dir / algo
    candidates = list(dict.fromkeys([folder / f"{env}.yaml", folder / f"{env.split('/')[0]}.yaml"]))
    for path in candidates:
        if path.is_file():
            return load_yaml(path)
    # Only a family with configs for other algorithms is one metarl ships settings for; a user's
    # own env (module:Class, a registered id) has none, and the generic defaults are the point.
    names = {p.name for p in candidates}
    if not any(other.name in names for other in configs_dir.glob("*/*.yaml")):
        return {}
    looked = " or ".join(str(p) for p in candidates)
    warnings.warn(
        f"No config file for {algo} on '{env}' ({looked} does not exist): the run uses metarl's "
        "generic defaults (metarl-train --help lists them), which are not tuned for this "
        "family. Pass --config FILE or --set KEY=VALUE to choose the settings.",
        ConfigWarning,
        stacklevel=3,
    )
    return {}


def save_yaml(cfg: Config, path: Path) -> None:
    """The resolved config, written atomically: a crash leaves the old file or the new one."""
    storage.write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def from_dict(data: dict[str, Any]) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"Expected a mapping of config keys, got {type(data).__name__}.")
    cfg = Config()
    apply_dict(cfg, data)
    validate(cfg)
    return cfg
