# One command sets up a local virtual environment and runs: `make train` or `make test`.
# TORCH pins the CPU build that this machine installs locally; see the README for CUDA machines.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
# The optional extras the tests use: ray (Ray sampler), results (metarl-results), wandb (--track),
# render (mp4 videos), gym (old-gym task families via shimmy), metaworld (ml1/<task>, ml10).
EXTRAS ?= dev,ray,results,wandb,render,gym,metaworld
PY := $(VENV)/bin/python

.PHONY: setup train test lint clean

setup: $(VENV)/.installed

# mujoco 4 comes as mujoco + mujoco-core + mujoco-studio; pip's downgrade to the 3.x that metarl
# and Meta-World pin leaves the last two behind, and `import mujoco` then fails (libmujoco.so.4):
# in a venv that had mujoco 4, all three are removed before the install.
$(VENV)/.installed: pyproject.toml examples/my_tasks/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	if $(PY) -m pip show --quiet mujoco-core >/dev/null 2>&1; then \
		$(PY) -m pip uninstall --quiet --yes mujoco mujoco-core mujoco-studio; fi
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	$(PY) -m pip install --quiet -e examples/my_tasks
	touch $@

train: setup
	$(PY) train.py --algo meta-sgd --env point-goal

test: setup
	$(PY) -m pytest -q

# lint-imports checks pyproject.toml's [tool.importlinter] contracts: no import cycles, layers.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
