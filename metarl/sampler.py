"""One batched rollout of N tasks x E episodes.

All N*E sub-envs step together; sub-env j = n*E + e runs task n. The policy is evaluated once per
step for every sub-env: with shared params (D_train) or with each task's own adapted params
(D_test) in the same batched forward pass. The loop has a fixed length (the horizon) and keeps
`done` as a tensor, so nothing in it waits on the host.
"""

from __future__ import annotations

import torch

from metarl.episodes import Episodes
from metarl.policy import MLPPolicy, Params, params_dtype
from metarl.tasks import Task, TaskFamily


class Sampler:
    def __init__(
        self,
        family: TaskFamily,
        policy: MLPPolicy,
        num_tasks: int,
        episodes_per_task: int,
        device: torch.device,
        seed: int = 0,
        num_workers: int | None = 0,
    ) -> None:
        self.policy = policy
        self.num_tasks = num_tasks
        self.episodes_per_task = episodes_per_task
        self.horizon = family.horizon
        self.device = device
        self.env = family.batched_env(num_tasks * episodes_per_task, device, seed, num_workers)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def sample(self, params: Params, tasks: list[Task]) -> Episodes:
        """Rolls out `params` (shared, or per task with a leading N) on `tasks` (len N)."""
        n, e, horizon = self.num_tasks, self.episodes_per_task, self.horizon
        if len(tasks) != n:
            raise ValueError(f"Sampler was built for {n} tasks, got {len(tasks)}")
        params = {k: v.detach() for k, v in params.items()}
        self.env.set_tasks([task for task in tasks for _ in range(e)])
        dtype = params_dtype(params)
        obs = self.env.reset()
        obs_buf = torch.empty(horizon, n, e, self.env.obs_dim, device=self.device, dtype=dtype)
        act_buf = torch.empty(horizon, n, e, self.env.act_dim, device=self.device, dtype=dtype)
        rew_buf = torch.empty(horizon, n, e, device=self.device, dtype=dtype)
        alive_buf = torch.empty(horizon, n, e, device=self.device, dtype=dtype)
        alive = torch.ones(n * e, dtype=torch.bool, device=self.device)
        with torch.no_grad():
            for t in range(horizon):
                obs_ne = obs.view(n, e, -1).to(dtype)
                actions = self.policy.sample(params, obs_ne, self.generator)
                obs_buf[t] = obs_ne
                act_buf[t] = actions
                alive_buf[t] = alive.view(n, e)
                obs, reward, done = self.env.step(actions.view(n * e, -1))
                rew_buf[t] = reward.view(n, e)
                alive = alive & ~done
        return Episodes(obs_buf, act_buf, rew_buf * alive_buf, alive_buf)

    def state_dict(self) -> dict:
        """Random state for checkpoints: the action noise and the env's reset counter."""
        return {
            "generator": self.generator.get_state(),
            "env_resets": getattr(self.env, "resets", 0),
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"].cpu())
        if hasattr(self.env, "resets"):  # Gymnasium envs reseed from it on every reset
            self.env.resets = state["env_resets"]

    def close(self) -> None:
        self.env.close()
