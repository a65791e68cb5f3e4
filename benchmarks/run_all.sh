#!/usr/bin/env bash
# Every benchmark in one command: prepare the lakes once (kept between runs), then measure.
#   benchmarks/run_all.sh [DATA_DIR]      DATA_DIR defaults to $BENCH_DATA or /tmp/bench
# Env: BENCH_PYTHON (default .venv/bin/python), BENCH_LANDING (default /tmp/fpdev/landing,
# only read), BENCH_SCALE (default 30). Results: DATA_DIR/results/*.json and run_all.log.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${BENCH_DATA:-/tmp/bench}}"
python="${BENCH_PYTHON:-.venv/bin/python}"
scale="${BENCH_SCALE:-30}"
mkdir -p "$data/results"
# Without a landing zone to read, replay the whole year into the benchmark's own folder.
if [ ! -d "${BENCH_LANDING:-/tmp/fpdev/landing}" ]; then
    FLIGHTPATH_HOME="$data" "$(dirname "$python")/flightpath" replay --through 2013-12-31 --quiet
    export BENCH_LANDING="$data/landing"
fi
{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git rev-parse --short HEAD), data $data"
    echo "# nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo)"; free -g
    "$python" -m benchmarks.prepare_lake --data "$data" --scale "$scale"
    "$python" -m benchmarks.feature_build --data "$data" --scale "$scale"
    "$python" -m benchmarks.feast_io --data "$data" --scale "$scale"
    "$python" -m benchmarks.models --data "$data"
    "$python" benchmarks/streaming.py --home "$data/real" > "$data/results/streaming.json"
    cat "$data/results/streaming.json"
    "$python" -m benchmarks.profiles --data "$data"  # needs Postgres and Redis on 127.0.0.1
} 2>&1 | tee "$data/results/run_all.log"
