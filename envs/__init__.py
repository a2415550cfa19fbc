"""Built-in task families (installed as ``metarl.envs``), registered with Gymnasium on import.

``gymnasium.make("metarl/PointGoal-v0")`` works once ``metarl`` is imported (it imports this
package). The entry points are strings, so the import loads neither MuJoCo nor the env modules.
"""

import gymnasium as gym

POINT_GOAL_ID = "metarl/PointGoal-v0"
BANDIT_ID = "metarl/Bandit-v0"
# The MuJoCo families of the MAML paper; horizon 200 (HORIZON in envs/mujoco/).
MUJOCO_IDS = {
    "metarl/HalfCheetahVel-v0": "metarl.envs.mujoco.half_cheetah:HalfCheetahVelEnv",
    "metarl/HalfCheetahDir-v0": "metarl.envs.mujoco.half_cheetah:HalfCheetahDirEnv",
    "metarl/AntVel-v0": "metarl.envs.mujoco.ant:AntVelEnv",
    "metarl/AntDir-v0": "metarl.envs.mujoco.ant:AntDirEnv",
}
# The same tasks in the paper's own rllab envs (envs/mujoco/rllab.py); horizon 200 too.
RLLAB_IDS = {
    "metarl/RllabHalfCheetahVel-v0": "metarl.envs.mujoco.rllab:RllabHalfCheetahVelEnv",
    "metarl/RllabHalfCheetahDir-v0": "metarl.envs.mujoco.rllab:RllabHalfCheetahDirEnv",
    "metarl/RllabAntVel-v0": "metarl.envs.mujoco.rllab:RllabAntVelEnv",
    "metarl/RllabAntDir-v0": "metarl.envs.mujoco.rllab:RllabAntDirEnv",
}

if POINT_GOAL_ID not in gym.registry:
    # The horizon lives in the registration, as Gymnasium does for its own envs.
    gym.register(
        id=POINT_GOAL_ID, entry_point="metarl.envs.point_goal:PointGoalEnv", max_episode_steps=100
    )
if BANDIT_ID not in gym.registry:
    gym.register(id=BANDIT_ID, entry_point="metarl.envs.bandit:BanditEnv", max_episode_steps=10)
for env_id, entry_point in {**MUJOCO_IDS, **RLLAB_IDS}.items():
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry_point, max_episode_steps=200)
