# DepthNet: `make run` sets up .venv and runs the main job; `make test` sets up .venv and runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m depthnet.main

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) -m depthnet.bench --precision=fp32,bf16

clean:
	rm -rf $(VENV) *.egg-info
