"""Daily drift from a saved reference profile, against pandas + scipy and evidently.

    python -m benchmarks.drift [--sizes 26398,5000000] [--repeat 1] [--dir /tmp/bench-drift]
        [--source <training_set.parquet>]

Inputs, under `--dir` (built once, kept): `current.parquet`, the last 7,000 rows (by
`sched_dep_utc`) of a real training set (`--source`), and `reference_<rows>.parquet`, that
training set stacked until it has `rows` rows, every copy after the first with Gaussian jitter
(1% of the column's standard deviation) on the float columns with more than 100 distinct values;
NULLs stay NULL. Every way goes from those files to per-feature results, with the asset's
arguments: the reference filtered to a window of New York days (here its whole span, as
`reference_rows` writes it), NUMERIC = the model's numeric features, CATEGORICAL = carrier /
origin / dest.
  * build (once per model, at training): `reference_profile` of the reference, written to
    `profile_<rows>.parquet` as the training asset writes it into the model's directory;
  * profile (each day): that file read and parsed, then `drift_against` over the current file
    only: what the `feature_drift` asset does every day;
  * naive: `pd.read_parquet` (the feature columns and `sched_dep_utc`), the same window, then per
    column decile edges (`np.quantile`, linear), `np.histogram`, PSI, `scipy.stats.ks_2samp`;
    per categorical `value_counts` and `scipy.stats.chisquare`;
  * evidently: the same `pd.read_parquet` and window, then evidently's `Report([DataDriftPreset()])`
    with its default per-column methods (installed for the benchmark only, not a dependency).
Each timing runs in a fresh process, after the machine has been quiet (other processes below
`--quiet-cores` for 5 s, waiting at most `--max-wait` s); it reports the CPU other processes
used meanwhile (above `--quiet-cores`, it is run again, at most `--tries` times in all), the
process's peak RSS (VmHWM, imports included) and its growth over the RSS after imports.
Medians of `--repeat`; results go to `<dir>/results/drift.json`, Markdown tables to stdout.
The first naive run also recomputes drift.py's own definitions in numpy (untimed), so that a
difference between the ways splits into what is by design and what would be a bug.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.stats import chisquare, ks_2samp

from benchmarks.common import emit, measure, peak_rss_mib, save, table
from flightpath.feed_calendar import FEED
from flightpath.models.features import CATEGORICAL, FEATURES
from flightpath.monitoring.drift import FLOOR, drift_against
from flightpath.monitoring.profile import ReferenceProfile, reference_profile

NUMERIC = [name for name in FEATURES if name not in CATEGORICAL]  # as the asset's NUMERIC
SOURCE = Path("/tmp/fpdev/lake/training_set.parquet")
WAYS = ("build", "profile", "naive", "evidently")
BINS = 10
Result = dict[str, dict[str, float]]  # feature -> psi, statistic, p_value


def _clock() -> tuple[float, float, float]:
    """Wall clock, this process's CPU seconds (all threads), the machine's busy CPU seconds."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return time.perf_counter(), time.process_time(), busy


def _others(start: tuple[float, float, float]) -> tuple[float, float, float]:
    """Seconds since `start`, this process's CPU seconds, and the cores other processes kept
    busy meanwhile."""
    wall, own, busy = (b - a for a, b in zip(start, _clock(), strict=True))
    return wall, own, max(0.0, busy - own) / wall


def _rss_mib() -> float:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


# --- inputs ---


def prepare(
    folder: Path, sizes: list[int], current_rows: int, source_path: Path
) -> tuple[Path, dict[int, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    source = pq.read_table(source_path)
    current = folder / "current.parquet"
    if not current.exists():
        order = pc.sort_indices(source, [("sched_dep_utc", "ascending")])
        pq.write_table(source.take(order).slice(source.num_rows - current_rows), current)
    references = {n: folder / f"reference_{n}.parquet" for n in sizes}
    for n, path in references.items():
        if not path.exists() or pq.ParquetFile(path).metadata.num_rows != n:
            _stack(source, n, path)
    return current, references


def _stack(source: pa.Table, rows: int, path: Path) -> None:
    rng = np.random.default_rng(rows)
    jittered = [
        name
        for name, kind in zip(source.column_names, source.schema.types, strict=True)
        if pa.types.is_floating(kind) and pc.count_distinct(source[name]).as_py() > 100
    ]
    values = {name: source[name].to_numpy() for name in jittered}  # NaN where NULL
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, source.schema) as writer:
        for copy, start in enumerate(range(0, rows, source.num_rows)):
            part = source.slice(0, rows - start)
            for name in jittered if copy else []:
                v = values[name][: part.num_rows]
                noisy = v + rng.normal(0.0, 0.01 * np.nanstd(v), v.shape)
                part = part.set_column(
                    part.schema.get_field_index(name), name, pa.array(noisy, from_pandas=True)
                )
            writer.write_table(part)
    tmp.replace(path)


def window(path: Path) -> tuple[date, date]:
    days = pd.read_parquet(path, columns=["sched_dep_utc"])["sched_dep_utc"]
    local = days.dt.tz_convert(FEED.timezone).dt.date
    return local.min(), local.max()


# --- the ways (children) ---


def _reference_rows(reference: str, first: str, last: str) -> str:
    """`reference_rows`' expression over the file."""
    day = f"(sched_dep_utc AT TIME ZONE '{FEED.timezone}')::DATE"
    where = f"{day} BETWEEN DATE '{first}' AND DATE '{last}'"
    return f"(SELECT * FROM read_parquet('{reference}') WHERE {where})"


def _profile_path(reference: str) -> Path:
    return Path(reference).with_name(Path(reference).name.replace("reference_", "profile_"))


def _connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"temp_directory": "/tmp/flightpath-duckdb"})  # as Lake.connect


def build(reference: str, first: str, last: str) -> Result:
    """Once per model: the profile, written as the training asset writes it."""
    with _connect() as connection:
        profile = reference_profile(
            connection, _reference_rows(reference, first, last), NUMERIC, CATEGORICAL, BINS
        )
    profile.write(_profile_path(reference))
    return {"profile": {"bytes": float(_profile_path(reference).stat().st_size),
                        "ks_bound": profile.describe()["ks_bound"]}}  # fmt: skip


def daily(reference: str, current: str) -> Result:
    """Each day: the saved profile (as `ModelRegistry.drift_profile` parses it), then the
    current window only."""
    profile = ReferenceProfile.from_parquet(_profile_path(reference).read_bytes())
    with _connect() as connection:
        stats = drift_against(
            profile, connection, f"read_parquet('{current}')", NUMERIC, CATEGORICAL
        )
    return {s.feature: {"psi": s.psi, "statistic": s.statistic, "p_value": s.p_value,
                        "bound": s.statistic_bound} for s in stats}  # fmt: skip


def evidently(ref: pd.DataFrame, cur: pd.DataFrame) -> Result:
    """evidently's DataDriftPreset with its defaults; per column its drift score."""
    # Imported by name: evidently is installed for this benchmark only, not a dependency.
    api = importlib.import_module("evidently")
    presets = importlib.import_module("evidently.presets")
    definition = api.DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = api.Report([presets.DataDriftPreset()]).run(
        current_data=api.Dataset.from_pandas(cur, data_definition=definition),
        reference_data=api.Dataset.from_pandas(ref, data_definition=definition),
    )
    out: Result = {}
    for metric in snapshot.dict()["metrics"]:
        column = metric["config"].get("column")
        if column is not None:
            out[column] = {"score": float(metric["value"]), "method": metric["config"]["method"]}
    return out


def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    expected = np.clip(reference / reference.sum(), FLOOR, None)
    actual = np.clip(current / current.sum(), FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _load(reference: str, current: str, first: str, last: str) -> tuple[pd.DataFrame, ...]:
    columns = [*NUMERIC, *CATEGORICAL]
    ref = pd.read_parquet(reference, columns=[*columns, "sched_dep_utc"])
    day = ref["sched_dep_utc"].dt.tz_convert(FEED.timezone).dt.normalize().dt.tz_localize(None)
    ref = ref.loc[day.between(pd.Timestamp(first), pd.Timestamp(last)), columns]
    return ref, pd.read_parquet(current, columns=columns)


def naive(ref: pd.DataFrame, cur: pd.DataFrame) -> Result:
    out: Result = {}
    inner = np.linspace(0, 1, BINS + 1)[1:-1]
    for name in NUMERIC:
        r, k = ref[name].dropna().to_numpy(np.float64), cur[name].dropna().to_numpy(np.float64)
        edges = np.concatenate(([-np.inf], np.unique(np.quantile(r, inner)), [np.inf]))
        psi = _psi(np.histogram(r, edges)[0], np.histogram(k, edges)[0])
        ks = ks_2samp(r, k)
        out[name] = {"psi": psi, "statistic": float(ks.statistic), "p_value": float(ks.pvalue)}
    for name in CATEGORICAL:
        rc, kc = ref[name].value_counts(), cur[name].value_counts()
        values = rc.index.union(kc.index)
        rc, kc = rc.reindex(values, fill_value=0), kc.reindex(values, fill_value=0)
        shares = np.clip(rc / rc.sum(), FLOOR, None)
        test = chisquare(kc, shares / shares.sum() * kc.sum())
        out[name] = {
            "psi": _psi(rc.to_numpy(), kc.to_numpy()),
            "statistic": float(test.statistic),
            "p_value": float(test.pvalue),
        }
    return out


def as_drift_py(ref: pd.DataFrame, cur: pd.DataFrame) -> Result:
    """drift.py's definitions, recomputed in numpy: `quantile_disc` (= inverted_cdf) edges,
    right-closed bins, NULLs a bin of their own (`psi`; `psi_without_nulls` leaves it out);
    categoricals over the reference's values + NULL + "other". Untimed."""
    out: Result = {}
    qs = [k / BINS for k in range(1, BINS)]
    for name in NUMERIC:
        r, k = ref[name].to_numpy(np.float64), cur[name].to_numpy(np.float64)
        edges = np.quantile(r[~np.isnan(r)], qs, method="inverted_cdf")
        per_bin = [
            np.bincount(np.searchsorted(edges, v[~np.isnan(v)], side="left"), minlength=BINS)
            for v in (r, k)
        ]
        nulls = [np.isnan(v).sum() for v in (r, k)]
        out[name] = {
            "psi": _psi(np.append(per_bin[0], nulls[0]), np.append(per_bin[1], nulls[1])),
            "psi_without_nulls": _psi(per_bin[0], per_bin[1]),
        }
    for name in CATEGORICAL:
        rc, kc = ref[name].value_counts(), cur[name].value_counts()
        pairs = [(rc[v], kc.get(v, 0)) for v in rc.index]
        missing = (int(ref[name].isna().sum()), int(cur[name].isna().sum()))
        other = int(kc[~kc.index.isin(rc.index)].sum())
        pairs += ([missing] if any(missing) else []) + ([(0, other)] if other else [])
        counts = np.array(pairs, np.float64)
        shares = np.clip(counts[:, 0] / counts[:, 0].sum(), FLOOR, None)
        test = chisquare(counts[:, 1], shares / shares.sum() * counts[:, 1].sum())
        out[name] = {"psi": _psi(counts[:, 0], counts[:, 1]), "statistic": float(test.statistic)}
    return out


def child(way: str, reference: str, current: str, first: str, last: str, check: str) -> None:
    if way == "evidently":  # its import (some 20 s) is not part of the timing
        importlib.import_module("evidently.presets")
    imported = _rss_mib()
    start = _clock()
    if way == "build":
        found = build(reference, first, last)
    elif way == "profile":
        found = daily(reference, current)
    else:
        ref, cur = _load(reference, current, first, last)
        found = naive(ref, cur) if way == "naive" else evidently(ref, cur)
    seconds, cpu, others = _others(start)
    peak = peak_rss_mib()
    result: dict[str, Any] = {
        "seconds": seconds,
        "cpu_s": cpu,
        "others_cores": others,
        "import_rss_mib": imported,
        "peak_rss_mib": peak,
        "growth_mib": peak - imported,
        "features": found,
    }
    if check == "1" and way == "naive":
        result["as_drift_py"] = as_drift_py(ref, cur)
    emit(result)


# --- the parent ---


def wait_quiet(threshold: float, limit: float, span: float = 5.0) -> dict[str, float]:
    """Until other processes used under `threshold` cores for `span` s (at most `limit` s)."""
    began = time.perf_counter()
    while True:
        start = _clock()
        time.sleep(span)
        _, _, others = _others(start)
        waited = time.perf_counter() - began
        if others < threshold or waited > limit:
            return {"waited_s": round(waited, 1), "others_cores_before": round(others, 3)}


def compare(ours_: Result, naive_: Result, exact: Result) -> list[dict[str, Any]]:
    """Per feature: the profile way against naive; their PSI gap split into drift.py's NULL bin
    and its edges (inverted_cdf, right-closed) against np.quantile + np.histogram (linear,
    left-closed); KS D against `ks_2samp`'s exact D, with the sketch's stated bound; and the
    profile way against drift.py's definitions recomputed in numpy (should be ~0)."""
    rows = []
    for name in [*NUMERIC, *CATEGORICAL]:
        o, n, e = ours_[name], naive_[name], exact[name]
        numeric = "psi_without_nulls" in e
        rows.append({
            "feature": name,
            "psi ours": o["psi"],
            "psi naive": n["psi"],
            "Δ psi": o["psi"] - n["psi"],
            "of it NULL bin": e["psi"] - e["psi_without_nulls"] if numeric else None,
            "of it edges": e["psi_without_nulls"] - n["psi"] if numeric else None,
            "D / χ² ours": o["statistic"],
            "Δ D / χ²": o["statistic"] - n["statistic"],
            "D bound": o["bound"] if numeric else None,
            "p ours": o["p_value"],
            "p naive": n["p_value"],
            "psi ours vs numpy(drift.py)": abs(o["psi"] - e["psi"]),
        })  # fmt: skip
    return rows


def timed(
    args: argparse.Namespace, way: str, reference: Path, current: Path, *window: date, repeat: int
) -> dict[str, Any]:
    """One timing in a fresh process once the machine is quiet; tried again (at most `--tries`
    times in all) while other processes used more than `--quiet-cores` during it."""
    discarded: list[dict[str, float]] = []
    while True:
        quiet = wait_quiet(args.quiet_cores, args.max_wait)
        check = "1" if repeat == 0 else "0"
        found = measure(
            "benchmarks.drift", way, str(reference), str(current), *map(str, window), check,
            timeout=1800,
        )  # fmt: skip
        if "failed" in found:
            raise RuntimeError(f"{way} on {reference}: {found}")
        print(f"{reference.stem:>25} {way:5} {found['seconds']:8.2f} s  peak "
              f"{found['peak_rss_mib']:7,.0f} MiB  others {found['others_cores']:.2f} cores "
              f"(before {quiet['others_cores_before']:.2f}, waited {quiet['waited_s']:.0f} s)",
              flush=True)  # fmt: skip
        if found["others_cores"] <= args.quiet_cores or len(discarded) + 1 >= args.tries:
            return {**found, **quiet, "discarded": discarded}
        discarded.append({"seconds": found["seconds"], "others_cores": found["others_cores"]})


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    current, references = prepare(args.dir, sizes, args.current_rows, args.source)
    first, last = window(args.source)
    out: dict[str, Any] = {"source": str(args.source), "window": [str(first), str(last)],
                           "sizes": {}}  # fmt: skip
    for n in sizes:
        runs: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
        for repeat in range(args.repeat):
            for way in WAYS:  # build first: the profile way reads what it wrote
                found = timed(args, way, references[n], current, first, last, repeat=repeat)
                runs[way].append(found)
        median = {w: statistics.median(r["seconds"] for r in rs) for w, rs in runs.items()}
        agreement = compare(
            runs["profile"][0]["features"],
            runs["naive"][0]["features"],
            next(r for r in runs["naive"] if "as_drift_py" in r)["as_drift_py"],
        )
        numeric = agreement[: len(NUMERIC)]
        out["sizes"][n] = {
            "summary": {
                "rows": n,
                "profile (daily) s": median["profile"],
                "naive s": median["naive"],
                "evidently s": median["evidently"],
                "naive ÷ profile": median["naive"] / median["profile"],
                "evidently ÷ profile": median["evidently"] / median["profile"],
                "build (once) s": median["build"],
                **{f"{w} peak MiB": max(r["peak_rss_mib"] for r in runs[w]) for w in WAYS},
                "profile growth MiB": max(r["growth_mib"] for r in runs["profile"]),
                "profile file MB": runs["build"][0]["features"]["profile"]["bytes"] / 1e6,
                "others' cores (max)": max(r["others_cores"] for w in runs.values() for r in w),
                "noisy tries discarded": sum(len(r["discarded"]) for w in runs.values() for r in w),
                "max |Δ KS D|": max(abs(r["Δ D / χ²"]) for r in numeric),
                "max D bound": max(r["D bound"] for r in numeric),
                "max psi ours vs numpy(drift.py)": max(
                    r["psi ours vs numpy(drift.py)"] for r in agreement
                ),
            },
            "runs": {
                w: [{k: v for k, v in r.items() if k != "as_drift_py"} for r in rs]
                for w, rs in runs.items()
            },
            "agreement": agreement,
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    sizes = result["sizes"]
    parts = [table([s["summary"] for s in sizes.values()])]
    for n, s in sizes.items():
        parts.append(f"\nAgreement at {int(n):,} reference rows (first run of each way):\n")
        parts.append(table(s["agreement"]))
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="26398,5000000", help="reference rows")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--source", type=Path, default=SOURCE, help="a real training set")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-drift"))
    parser.add_argument("--current-rows", type=int, default=7000)
    parser.add_argument("--quiet-cores", type=float, default=0.2)
    parser.add_argument("--max-wait", type=float, default=600.0, help="seconds, per timing")
    parser.add_argument("--tries", type=int, default=3, help="per timing, while others are busy")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    result = run(args)
    print("saved", save(args.dir, "drift", result))
    print(markdown(result))


if __name__ == "__main__":
    main()
