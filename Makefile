# vatti — two set-up commands: `make demo` and `make test`. Each creates what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck fmt bench clean help

help:
	@echo "make demo   run a polygenic score job end to end on embedded defaults"
	@echo "make test   run the whole test suite (unit, integration, e2e)"
	@echo "make lint   ruff + mypy strict"
	@echo "make bench  benchmarks against plink2, the pgsc_calc chain and the API"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "vatti needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/vatti pgs demo-data --out vatti-data/demo-input
	$(BIN)/vatti run examples/pgs-demo.json

test: $(STAMP)
	-@bash scripts/install-plink2.sh || echo "make test: plink2 could not be installed; its tests will skip (fail in CI)"
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/pgs_vs_plink2.py
	$(BIN)/python benchmarks/api_throughput.py

clean:
	rm -rf vatti-data .pytest_cache .mypy_cache .ruff_cache
