"""One compiled MjModel per model file and process, shared by every env built from it.

A sampler worker holds hundreds of sub-envs of one family. Gymnasium compiles the XML for each
(about 0.5 MB per half-cheetah, so 800 sub-envs held ~400 MB of identical models) and stepping
them in turn then streams all those copies through the CPU caches. The model is read-only while
stepping, so the sub-envs share it and keep only their own MjData (about 14 KB). Families whose
tasks change the model itself (masses, friction) must not use this mixin.
"""

from __future__ import annotations

import mujoco

_MODELS: dict[tuple[str, int, int], mujoco.MjModel] = {}


class SharedModel:
    """Mixin for gymnasium.envs.mujoco.MujocoEnv subclasses (list it before the env class)."""

    fullpath: str
    width: int
    height: int

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        key = (self.fullpath, self.width, self.height)
        model = _MODELS.get(key)
        if model is None:
            model, data = super()._initialize_simulation()  # type: ignore[misc]
            _MODELS[key] = model
            return model, data
        return model, mujoco.MjData(model)
