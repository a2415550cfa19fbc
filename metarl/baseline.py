"""Linear feature baseline (Duan et al. 2016, as used by the MAML paper), fitted per task, batched.

Features of a step: [o, o^2, t, t^2, t^3, 1] with o clipped to [-10, 10] and t = step / 100.
The weights solve a ridge least-squares problem per task on that task's discounted returns;
all N tasks are solved in one batched `torch.linalg.lstsq` call, on the device.
"""

from __future__ import annotations

import torch

from metarl.episodes import Episodes, discounted_returns, gae, normalize_per_task


def features(obs_t: torch.Tensor, mask_t: torch.Tensor) -> torch.Tensor:
    """[T, N, E, obs_dim] -> [T, N, E, 2 * obs_dim + 4], zero where the episode has ended."""
    o = obs_t.clamp(-10, 10)
    t = torch.arange(obs_t.shape[0], device=obs_t.device, dtype=obs_t.dtype) / 100.0
    t = t.view(-1, 1, 1, 1).expand(*obs_t.shape[:3], 1)
    ones = torch.ones_like(t)
    f = torch.cat([o, o * o, t, t * t, t * t * t, ones], dim=-1)
    return f * mask_t.unsqueeze(-1)


def fit_predict(
    episodes: Episodes, gamma: float, reg: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fits one linear baseline per task; returns (values [T, N, E], weights [N, F])."""
    # nan_to_num: a NaN reward or observation must reach the run's guard (trainer._check_finite)
    # and be named there, not crash LAPACK here with an internal assertion.
    feats = torch.nan_to_num(features(episodes.observations, episodes.mask))  # [T, N, E, F]
    f = episodes.by_task(feats)  # [N, T*E, F]
    returns = torch.nan_to_num(discounted_returns(episodes.rewards, episodes.mask, gamma))
    y = episodes.by_task(returns).unsqueeze(-1)  # [N, T*E, 1]
    # Ridge normal equations (X^T X + reg I) w = X^T y. The regulariser keeps the system full rank,
    # so QR without pivoting ('gels') suffices: it is the one driver CUDA has, and on the CPU it is
    # deterministic, while the default 'gelsy' returns different bits for identical inputs
    # depending on memory alignment (MKL), which made same-seed runs diverge.
    # In float64: an observation that stays constant (Meta-World pads unused object slots with
    # zeros and hides the goal) makes its feature collinear with the constant one, and in float32
    # reg = 1e-5 vanishes next to entries of X^T X near 1e7 (T = 500 steps x E episodes), leaving
    # an exactly singular system that 'gels' refuses.
    f64, y64 = f.double(), y.double()
    ft = f64.transpose(1, 2)
    eye = torch.eye(f.shape[-1], device=f.device, dtype=torch.float64)
    weights = torch.linalg.lstsq(ft @ f64 + reg * eye, ft @ y64, driver="gels").solution
    weights = weights.to(f.dtype)  # [N, F, 1]
    values = feats @ weights.unsqueeze(0)  # [T, N, E, F] @ [1, N, F, 1] -> [T, N, E, 1]
    return values.squeeze(-1), weights.squeeze(-1)


def estimate_advantages(episodes: Episodes, gamma: float, lam: float, normalize: bool) -> Episodes:
    """Fits the per-task baseline on `episodes` and stores GAE advantages in them (returned too)."""
    values, _ = fit_predict(episodes, gamma)
    adv = gae(episodes.rewards, values, episodes.mask, gamma, lam)
    episodes.advantages = normalize_per_task(adv, episodes.mask) if normalize else adv
    return episodes
