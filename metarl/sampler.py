"""One batched rollout of N tasks x E episodes.

All N*E sub-envs step together; sub-env j = n*E + e runs task n. The policy is evaluated once per
step for every sub-env: with shared params (D_train) or with each task's own adapted params
(D_test). The loop has a fixed length (the horizon) and keeps `done` as a tensor, so nothing in it
waits on the host.

CPU simulators (Gymnasium envs) step in two groups, the first and the second half of the tasks:
while one group steps (in worker processes or Ray actors), the policy computes the other group's
actions.
Native torch envs (point-goal) step as one group.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

from metarl.episodes import Episodes
from metarl.errors import ActorLost, WorkerError
from metarl.policy import MLPPolicy, Params, is_per_task, params_dtype
from metarl.tasks import TaskFamily
from metarl.vec.base import HostBatchedEnv, StepResult, Task


class SamplerRetryWarning(UserWarning):
    """A phase is sampled again after a lost worker (train.py prints it as one line)."""


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
        backend: str = "local",
        address: str | None = None,
        max_retries: int = 2,
        action_scale: float = 1.0,
    ) -> None:
        self.policy = policy
        # The env steps action_scale x the policy's action; episodes keep the policy's own.
        self.action_scale = action_scale
        self.num_tasks = num_tasks
        self.episodes_per_task = episodes_per_task
        self.horizon = family.horizon
        self.device = device
        m = num_tasks * episodes_per_task
        half = (num_tasks + 1) // 2 * episodes_per_task
        groups = [(0, half), (half, m)] if num_tasks > 1 else [(0, m)]
        self.env = family.batched_env(m, device, seed, num_workers, groups, backend, address)
        self.max_retries = max_retries
        # A host env steps by groups, pipelined; a native env (point-goal in torch) at once.
        self.host = self.env if isinstance(self.env, HostBatchedEnv) else None
        self.groups = self.host.groups if self.host is not None else [(0, m)]
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.reports_success: bool | None = None
        """Whether the env reports info["success"]; read off the first batch."""
        self._closed = False

    def sample(self, params: Params, tasks: list[Task]) -> Episodes:
        """Rolls out `params` (shared, or per task with a leading N) on `tasks` (len N)."""
        if len(tasks) != self.num_tasks:
            raise ValueError(f"Sampler was built for {self.num_tasks} tasks, got {len(tasks)}")
        # A worker lost mid-phase (Ray backend: the env has replaced it) cannot resume its
        # episodes on another process, so the whole phase is sampled again, from the same env
        # seeds and action noise: the batch is the one an undisturbed phase gives, and nothing
        # of the lost attempt is used.
        noise, resets = self.generator.get_state(), self._resets()
        retries = 0
        while True:
            try:
                return self._sample(params, tasks)
            except ActorLost as err:
                if retries == self.max_retries:
                    raise WorkerError(
                        f"{err} The phase lost a sampler actor in each of its {retries + 1} "
                        f"attempts (sampler.max_retries={self.max_retries}), so the run stops. "
                        "Look for why actors die (memory, node failures; Ray's logs are in "
                        "/tmp/ray/session_latest/logs), or raise sampler.max_retries."
                    ) from err
                retries += 1
                warnings.warn(
                    f"{err} Sampling the phase again (retry {retries} of {self.max_retries}).",
                    SamplerRetryWarning,
                    stacklevel=2,
                )
                self.generator.set_state(noise)
                if self.host is not None:
                    self.host.resets = resets

    def _sample(self, params: Params, tasks: list[Task]) -> Episodes:
        n, e, horizon = self.num_tasks, self.episodes_per_task, self.horizon
        params = {k: v.detach() for k, v in params.items()}
        self.env.set_tasks([task for task in tasks for _ in range(e)])
        dtype = params_dtype(params)
        obs_buf = torch.empty(horizon, n, e, self.env.obs_dim, device=self.device, dtype=dtype)
        act_buf = torch.empty(horizon, n, e, self.env.act_dim, device=self.device, dtype=dtype)
        rew_buf = torch.empty(horizon, n, e, device=self.device, dtype=dtype)
        success_buf = torch.full((horizon, n, e), torch.nan, device=self.device)
        alive_buf = torch.empty(horizon, n, e, device=self.device, dtype=dtype)
        alive = torch.ones(n, e, dtype=torch.bool, device=self.device)
        tasks_of = [slice(a // e, b // e) for a, b in self.groups]
        per_task = is_per_task(params)
        with torch.no_grad(), self._threads():
            obs = self.env.reset()
            for t in range(horizon + 1):
                for g, rows in enumerate(tasks_of):
                    if t == 0:
                        obs_g = obs[rows.start * e : rows.stop * e]
                    else:  # the step of group g started at t - 1
                        obs_g, reward, done, *success = self._step_wait(g)
                        rew_buf[t - 1, rows] = reward.view(-1, e)
                        if success:  # Gymnasium envs; native ones report none
                            success_buf[t - 1, rows] = success[0].view(-1, e)
                        alive[rows] &= ~done.view(-1, e)
                    if t == horizon:
                        continue
                    obs_ne = obs_g.view(-1, e, self.env.obs_dim).to(dtype)
                    group_params = {k: v[rows] for k, v in params.items()} if per_task else params
                    actions = self.policy.sample(group_params, obs_ne, self.generator)
                    obs_buf[t, rows] = obs_ne
                    act_buf[t, rows] = actions
                    alive_buf[t, rows] = alive[rows]
                    if self.action_scale != 1.0:
                        actions = actions * self.action_scale
                    self._step_async(g, actions.view(-1, self.env.act_dim))
        successes = self._episode_successes(success_buf, alive_buf)
        return Episodes(obs_buf, act_buf, rew_buf * alive_buf, alive_buf, successes=successes)

    def _episode_successes(
        self, success_t: torch.Tensor, alive_t: torch.Tensor
    ) -> torch.Tensor | None:
        """[N, E]: 1 where info["success"] was true at a step the episode took, as Meta-World
        counts an episode successful (Yu et al. 2019); None if the env reports no success."""
        if self.reports_success is None:  # one host sync, on the first batch only
            self.reports_success = bool(success_t.isfinite().any())
        if not self.reports_success:
            return None
        succeeded = (success_t.nan_to_num(0.0) > 0) & (alive_t > 0)
        return succeeded.any(0).to(alive_t.dtype)

    def _step_async(self, group: int, actions: torch.Tensor) -> None:
        if self.host is not None:
            self.host.step_async(group, actions)
        else:  # a native env: one group, stepped at once
            self._result = self.env.step(actions)

    def _step_wait(self, group: int) -> StepResult:
        return self.host.step_wait(group) if self.host is not None else self._result

    def _resets(self) -> int:
        """Resets so far of a host env, whose sub-envs reseed from the count on every reset."""
        return self.host.resets if self.host is not None else 0

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        """One torch thread while CPU envs step: the policy's forward is small, and torch's idle
        OpenMP threads spin after it, taking the cores from the env workers (measured: 23k vs 28k
        cheetah steps/s with 2 workers on 2 cores)."""
        if self.host is None or self.device.type != "cpu":
            yield
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)

    def state_dict(self) -> dict:
        """Random state for checkpoints: the action noise and the env's reset counter."""
        return {
            "generator": self.generator.get_state(),
            "env_resets": self._resets(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"].cpu())
        if self.host is not None:
            self.host.resets = state["env_resets"]

    def close(self) -> None:
        """Closes the env once; later calls do nothing (a run closes it before its evaluation and
        again on the way out of any error)."""
        if not self._closed:
            self._closed = True
            self.env.close()
