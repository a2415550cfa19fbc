# One command sets up a local virtual environment and runs: `make train` or `make test`.
# TORCH pins the CPU build that this machine installs locally; see the README for CUDA machines.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python

.PHONY: setup train test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml examples/my_tasks/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev,ray,results,wandb,render]"
	$(PY) -m pip install --quiet -e examples/my_tasks
	touch $@

train: setup
	$(PY) train.py --algo meta-sgd --env point-goal

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
