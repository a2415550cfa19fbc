"""A NaN stops the run with a message naming where and when; the last checkpoint stays good."""

import pytest
import torch

from metarl import checkpoint
from metarl.cli import CONFIGS_DIR
from metarl.config import build_config
from metarl.envs.point_goal import PointGoalVectorEnv
from metarl.errors import CheckpointError, NumericalError
from metarl.trainer import train

TINY = [
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=2",
    "policy.hidden_sizes=[8]",
    "env.horizon=10",
    "iterations=4",
    "log.checkpoint_every=1",
    "eval.at_end=false",
]


def test_nan_reward_stops_the_run_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    original = PointGoalVectorEnv.step
    calls = {"n": 0}

    def poisoned(self, actions):
        obs, reward, done = original(self, actions)
        calls["n"] += 1
        if calls["n"] > 2 * 10:  # 10 steps x 2 phases per iteration: poison iteration 2
            reward = reward + float("nan")
        return obs, reward, done

    monkeypatch.setattr(PointGoalVectorEnv, "step", poisoned)
    cfg = build_config("maml", "point-goal", None, [*TINY, f"log.root={tmp_path}"], CONFIGS_DIR)
    with pytest.raises(
        NumericalError,
        match=r"NaN or inf at iteration 2, first in the rewards of D_train \(inner step 1\)\.",
    ):
        train(cfg)
    (run_dir,) = list((tmp_path / "point-goal" / "maml").iterdir())
    saved = sorted((run_dir / "checkpoints").glob("*.pt"))
    assert [p.name for p in saved] == ["iter_000001.pt"]
    state = checkpoint.load(saved[0])
    assert state["iteration"] == 1
    assert all(torch.isfinite(v).all() for v in state["policy"].values())


def test_truncated_checkpoint_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"iteration": 3, "policy": {"w": torch.ones(100)}})
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        checkpoint.load(path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_checkpoint_with_a_pickled_callable_does_not_run_it(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            target = str(tmp_path / "pwned")
            return (exec, (f"open({target!r}, 'w').write('ran')",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"iteration": 1, "x": Boom()}, f)
    with pytest.raises(CheckpointError):
        checkpoint.load(path)
    assert not (tmp_path / "pwned").exists()


def test_rejected_trpo_step_is_reported_on_the_console(tmp_path, capsys):
    from metarl.logger import Logger

    logger = Logger(tmp_path, total=3)
    logger.log({"returns/pre_adapt": -1.0, "returns/post_adapt": -1.0, "trpo/accepted": 0.0}, 2)
    logger.close()
    assert "iteration 2: the TRPO line search found no step" in capsys.readouterr().out
