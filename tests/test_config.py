import warnings

import pytest

from metarl.cli import CONFIGS_DIR
from metarl.config import Config, all_keys, build_config, parse_override, set_key
from metarl.errors import ConfigError


def test_paper_configs_load_and_match_the_protocol():
    for algo in ("maml", "meta-sgd", "reptile", "meta-lstm"):
        cfg = build_config(algo, "point-goal", None, [], CONFIGS_DIR)
        assert cfg.algo == algo and cfg.env.name == "point-goal"
        assert cfg.sampler.meta_batch_size == 20 and cfg.sampler.episodes_per_task == 20
        assert cfg.policy.hidden_sizes == [100, 100] and cfg.inner.lr == 0.1
        assert cfg.inner.gamma == 0.99 and cfg.inner.gae_lambda == 1.0
    maml = build_config("maml", "point-goal", None, [], CONFIGS_DIR)
    assert (maml.outer.max_kl, maml.outer.cg_iters, maml.outer.cg_damping) == (0.01, 10, 1e-5)
    assert (maml.outer.ls_max_steps, maml.outer.ls_backtrack_ratio) == (15, 0.8)


@pytest.mark.parametrize("algo", ["maml", "meta-sgd", "reptile", "meta-lstm"])
def test_sine_configs_follow_the_maml_regression_protocol(algo):
    """Finn et al. 2017, sec. 5.1: 2x40 ReLU, meta-batch 25, K = 10, Adam, inner lr 0.01, one
    inner step (Reptile, which has no second-order signal, takes ten)."""
    cfg = build_config(algo, "sine", None, [], CONFIGS_DIR)
    assert cfg.policy.hidden_sizes == [40, 40] and cfg.policy.activation == "relu"
    assert cfg.sampler.meta_batch_size == 25 and cfg.supervised.shots == 10
    assert cfg.supervised.eval_shots == [5, 10, 20] and cfg.eval.steps == 10
    assert cfg.outer.optimizer == "adam"
    assert cfg.inner.lr == 0.01 and cfg.inner.steps == (10 if algo == "reptile" else 1)


def test_meta_lstm_gates_must_start_inside_the_sigmoid():
    with pytest.raises(ConfigError, match=r"inner.lr must be < 1, got 1.5"):
        build_config("meta-lstm", "point-goal", None, ["inner.lr=1.5"], CONFIGS_DIR)
    with pytest.raises(ConfigError, match=r"'inner.lstm_forget_init' must be in \(0, 1\)"):
        build_config("meta-lstm", "point-goal", None, ["inner.lstm_forget_init=1"], CONFIGS_DIR)


def test_override_any_key_with_types():
    cfg = build_config(
        "maml",
        "point-goal",
        None,
        ["inner.lr=0.05", "policy.hidden_sizes=[32, 32]", "inner.first_order=true"],
        CONFIGS_DIR,
    )
    assert cfg.inner.lr == 0.05 and cfg.policy.hidden_sizes == [32, 32] and cfg.inner.first_order


def test_int_is_accepted_for_float():
    cfg = Config()
    set_key(cfg, "inner.lr", 1)
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float)


@pytest.mark.parametrize(
    "override, match",
    [
        ("inner.lrr=0.1", r"Unknown config key 'inner.lrr'. Did you mean 'inner.lr'\?"),
        ("inner=3", r"Config key 'inner' is a section: it expects a mapping"),
        ("sampler.meta_batch_size=ten", r"'sampler.meta_batch_size' expects an integer, got 'ten'"),
        ("inner.first_order=maybe", r"'inner.first_order' expects true or false"),
        ("policy.hidden_sizes=100", r"'policy.hidden_sizes' expects a list of int"),
        ("inner.lr=-0.1", r"'inner.lr' must be > 0, got -0.1"),
        ("sampler.meta_batch_size=0", r"'sampler.meta_batch_size' must be > 0"),
        ("inner.gamma=1.5", r"'inner.gamma' must be in \(0, 1\]"),
        ("policy.action_scale=0", r"'policy.action_scale' must be > 0, got 0"),
        ("policy.min_std=0", r"'policy.min_std' must be > 0 and at most the initial sigma"),
        ("policy.min_std=1.5", r"exp\(policy.init_log_std\) = 1, got 1.5"),
        ("policy.init=he", r"Unknown policy.init 'he'. .*Valid choices: torch, xavier"),
        (
            "outer.optimizer=sgd",
            r"Unknown outer.optimizer for maml 'sgd'. .*Valid choices: adam, trpo",
        ),
        ("lr0.1", r"not of the form key=value"),
        ("inner.later_lr_scale=0", r"'inner.later_lr_scale' must be > 0, got 0"),
        ("inner.loss_steps=first", r"'inner.loss_steps' must be 'last' .* or 'all'"),
    ],
)
def test_bad_overrides_are_rejected_with_a_clear_message(override, match):
    with pytest.raises(ConfigError, match=match):
        build_config("maml", "point-goal", None, [override], CONFIGS_DIR)


def test_unknown_algorithm_lists_the_valid_ones():
    with pytest.raises(
        ConfigError,
        match=r"Unknown algorithm 'mamll'. Did you mean 'maml'\?.*"
        r"maml, meta-lstm, meta-sgd, reptile",
    ):
        build_config("mamll", "point-goal", None, [], CONFIGS_DIR)


def test_config_for_another_env_is_rejected(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("env:\n  name: cheetah-vel\n")
    with pytest.raises(ConfigError, match=r"is for env 'cheetah-vel', but --env is 'point-goal'"):
        build_config("maml", "point-goal", path, [], CONFIGS_DIR)


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_config("maml", None, tmp_path / "missing.yaml", [], CONFIGS_DIR)
    bad = tmp_path / "bad.yaml"
    bad.write_text("inner: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_config("maml", None, bad, [], CONFIGS_DIR)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("outer:\n  max_kll: 0.1\n")
    with pytest.raises(
        ConfigError, match=r"Unknown config key 'outer.max_kll'. Did you mean 'outer.max_kl'"
    ):
        build_config("maml", None, unknown, [], CONFIGS_DIR)


def test_parse_override_reads_yaml_values():
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override("a=null") == ("a", None)
    assert "inner.lr" in all_keys()


def test_a_pair_without_a_shipped_config_warns_with_the_files_looked_for(tmp_path):
    from metarl.config import ConfigWarning

    configs = tmp_path / "configs"
    (configs / "maml").mkdir(parents=True)
    (configs / "maml" / "fam.yaml").write_text("sampler:\n  meta_batch_size: 7\n")
    with pytest.warns(ConfigWarning, match=r"No config file for reptile on 'fam' \(.*fam"):
        cfg = build_config("reptile", "fam", None, [], configs)
    assert cfg.sampler.meta_batch_size == Config().sampler.meta_batch_size
    # A user's own env has no shipped config for any algorithm: the defaults, and no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        build_config("reptile", "mypkg.envs:MyEnv", None, [], configs)
    with pytest.raises(ConfigError, match="config folder .* does not exist"):
        build_config("maml", "point-goal", None, [], tmp_path / "missing")


def test_the_shipped_configs_are_found_from_the_package():
    from metarl.config import CONFIGS_DIR as shipped

    cfg = build_config("maml", "cheetah-vel", None, [], shipped)
    assert cfg.sampler.meta_batch_size == 40  # the paper's, not the generic default of 20


def test_every_key_has_a_type_default_and_meaning_in_the_help():
    from metarl.cli import parser
    from metarl.config_help import key_docs

    docs = key_docs()
    assert [d.key for d in docs] == all_keys()
    assert all(d.meaning for d in docs), [d.key for d in docs if not d.meaning]
    text = parser().format_help()
    assert "inner.lr (float, default: 0.1)" in text
    assert "Inner step size alpha" in text
    assert "sampler.num_workers (int | None, default: null)" in text
