# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch/torchvision from this machine's local wheels; elsewhere override, e.g. TORCH="torch torchvision".
TORCH ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: install demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[agents,test,baselines]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m facebox.benchmarks.cli demo

test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(PYTEST_WORKERS)

test-slow: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m slow

lint: $(STAMP)
	$(PY) -m ruff check envs agents perception benchmarks src tests
	$(PY) -m ruff format --check envs agents perception benchmarks src tests

bench: $(STAMP)
	$(PY) -m facebox.benchmarks.env_speed
	$(PY) -m facebox.benchmarks.synthetic_speed

clean:
	rm -rf $(VENV) build *.egg-info runs results .pytest_cache
