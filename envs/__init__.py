"""Built-in task families, registered with Gymnasium on import.

``gymnasium.make("metarl/PointGoal-v0")`` works once ``envs`` is imported.
"""

import gymnasium as gym

POINT_GOAL_ID = "metarl/PointGoal-v0"
BANDIT_ID = "metarl/Bandit-v0"

if POINT_GOAL_ID not in gym.registry:
    # The horizon lives in the registration, as Gymnasium does for its own envs.
    gym.register(
        id=POINT_GOAL_ID, entry_point="envs.point_goal:PointGoalEnv", max_episode_steps=100
    )
if BANDIT_ID not in gym.registry:
    gym.register(id=BANDIT_ID, entry_point="envs.bandit:BanditEnv", max_episode_steps=10)
