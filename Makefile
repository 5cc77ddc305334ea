# The two commands in the README: `make demo` and `make test`. Both start from nothing but
# python3 (3.11+), Java 17 and Maven (and Go 1.25+ for `make test`, which builds a minimal
# OpenTelemetry Collector); everything else installs into .venv and ~/.cache.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test lint typecheck unit kafka-broker otelcol bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/swapwatch demo

lint: install
	$(BIN)/ruff check collector detector instrumentation tests deploy

# mypy reads the sources under their installed names through a folder of links, because the
# editable install maps swapwatch.* to the top-level folders with an import hook mypy cannot see.
typecheck: install
	mkdir -p .typecheck/swapwatch
	for p in collector detector instrumentation; do ln -sfn ../../$$p .typecheck/swapwatch/$$p; done
	cd .typecheck && MYPYPATH=. ../$(BIN)/mypy --config-file ../pyproject.toml \
	  -p swapwatch.collector -p swapwatch.detector -p swapwatch.instrumentation

unit: install
	$(BIN)/pytest -m 'not kafka'

test: lint typecheck
	sh deploy/ci/ensure-chromium.sh
	$(BIN)/pytest

bench: install
	$(BIN)/swapwatch bench

kafka-broker:
	deploy/kafka/run-broker.sh

# the minimal OpenTelemetry Collector that validates deploy/otelcol/config.yaml (needs Go)
otelcol:
	deploy/otelcol-build/build.sh

clean:
	rm -rf $(VENV) .typecheck build *.egg-info .pytest_cache .mypy_cache .ruff_cache
