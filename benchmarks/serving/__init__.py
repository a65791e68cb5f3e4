"""Serving benchmark: `POST /predict` under loopback load, ours against naive and a ceiling.

    .venv/bin/python -m benchmarks.serving [--data /tmp/bench] [--day 2013-07-15]
        [--seconds 10] [--concurrency 1 16 64] [--keep]

Needs wrk (`apt-get install -y wrk`), Redis on 127.0.0.1:6379 and Postgres on 127.0.0.1:5432
(user postgres, trust), and the bench home `<data>/real` (lake, Feast registry, models).

1. `<data>/serving_home`: copies of the home's feast/ and bentoml/, its lake linked table by
   table; the `online_features` asset materialized for `--day` (SQLite online store); a Feast
   project `--project` (Postgres database of the same name, keys in Redis) filled with the
   same rows. Dropped at the end unless `--keep`.
2. In process (fresh process per store): `OnlineFeatures.read` of one flight's keys, the
   stages of a request, the pandas schedule context against a pure-Python one, and cProfile
   of the handler.
3. Under wrk at each concurrency (`--seconds` each, after a `--warmup` at c=16): the ceiling
   (bare Starlette on uvicorn), BentoML's own ceiling (ceiling_bentoml.py), the naive service
   (naive_service.py, SQLite and Redis), ours on SQLite and on Redis, ours on SQLite with the
   challenger scoring in shadow, and the what-if (whatif.py: further suggestions applied from
   outside, on Redis). The first answers are compared.
4. Ours (Redis) once more at c=16 with cProfile on every worker thread (profiled.py): where
   the worker's CPU goes, and its full GC passes and log flushes (watch.py).

`python -m benchmarks.serving.ablation` then sizes each what-if change alone.
"""
