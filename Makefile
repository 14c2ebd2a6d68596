# Quick start: `make train`, `make test`. Both share `make setup`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# `make train`'s preset: a first run that learns visibly in about 5 minutes (README, Quick start).
# `make train PRESET=` trains with conf/config.yaml's plain defaults instead.
PRESET ?= +experiment=quickstart
# The suite mostly waits on processes starting (Ray, SUMO): three pytest workers share the 2 cores;
# loadgroup keeps the tests of each shared training run on one worker (tests/xdist_groups.py).
TEST_WORKERS ?= 3

.PHONY: setup train test clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

train: setup
	$(PY) train.py $(PRESET) $(ARGS)

test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
