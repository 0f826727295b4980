# The two entry points: `make quickstart` runs the pipeline on the embedded default,
# `make test` runs the whole test suite. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# The custom ops compile with the CUDA toolkit when one is installed (no GPU needed to compile).
export CUDA_HOME ?= $(wildcard /usr/local/cuda)
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: quickstart test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

quickstart: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml --report reports/report.html

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check lib tests bench workflow_scripts
	$(BIN)/ruff format --check lib tests bench workflow_scripts
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

clean:
	rm -rf results reports .snakemake
