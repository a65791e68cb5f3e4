"""Models on the full-year training set: training time, scoring throughput, feature ablation.

    python -m benchmarks.models [--data /tmp/bench] [--naive-rows 2000] [--repeat 3]

Reads the point-in-time training set of the real lake, `<data>/real/lake/training_set.parquet`
(the `training_set` asset), else `<data>/results/training_feast.parquet` (the same Feast join,
written by feast_io.py). Split: train 2013-01-01 .. 08-31, validate (early stopping) .. 09-30,
test .. 12-31 (New York days). Each measurement runs in a fresh process:
  * lgbm: `train_lgbm` on every feature (Dataset construction + boosting until the validation
    log loss has not improved for 50 rounds): seconds, best iteration, test ROC-AUC / PR-AUC;
  * torch: `train_mlp` on torch.device("cpu"), and on "cuda" when torch sees a GPU: seconds
    per epoch (`MlpDelayModel.epoch_seconds`; the first epoch apart), test ROC-AUC / PR-AUC;
  * scoring: both trained models, loaded from disk, on every test row. Ours is batch scoring,
    frame -> `FeatureSpec.matrix` -> predict (the matrix's share timed apart, best of
    `--repeat`); the naive way scores `--naive-rows` test flights one by one, each from a
    one-row pandas DataFrame (records made beforehand, untimed), LightGBM on one thread;
  * ablation: LightGBM trained and tested again with every feature, with each of
    FEATURE_GROUPS left out in turn, and with the schedule group alone.
Every timed block also reports this process's CPU seconds (all threads) and the CPU seconds
that other processes used meanwhile (from /proc/stat): on a shared machine, a large
`others_cpu_s` means the wall time is inflated by contention.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import psutil
import torch

from benchmarks.common import DEFAULT_DATA, emit, home, measure, peak_rss_mib, save, table
from flightpath.feed_calendar import FEED
from flightpath.models.features import FEATURE_GROUPS, FEATURES, FeatureSpec
from flightpath.models.lgbm import EARLY_STOPPING_ROUNDS, MAX_ROUNDS, LgbmDelayModel, train_lgbm
from flightpath.models.metrics import scores
from flightpath.models.mlp import MlpConfig, MlpDelayModel, train_mlp
from flightpath.models.splits import Split, split_frame, xy

SPLIT = Split(**FEED.training_windows())
GOAL_LGBM_S = 15.0  # the goal for a full-year LightGBM training on 2 cores
SPEC_FILE = "spec.json"
NOISY_CORES = 0.2  # other processes busy on average on more than this: the timing is suspect


class Stopwatch:
    """Wall seconds of a block, this process's CPU seconds (every thread), and the CPU seconds
    that all other processes used meanwhile, from the kernel's busy time (steal apart)."""

    def __enter__(self) -> Stopwatch:
        self._start = self._now()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        wall, own, busy, steal = (b - a for a, b in zip(self._start, self._now(), strict=True))
        self.seconds = wall
        self.report = {
            "seconds": wall,
            "cpu_s": own,
            "others_cpu_s": max(0.0, busy - own),
            "others_cores": max(0.0, busy - own) / wall,  # cores other processes kept busy
            "steal_s": steal,
        }

    @staticmethod
    def _now() -> tuple[float, float, float, float]:
        t = psutil.cpu_times()
        busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
        return time.perf_counter(), time.process_time(), busy, getattr(t, "steal", 0.0)


def training_set_path(data: Path) -> Path | None:
    candidates = [home(data) / "lake" / "training_set.parquet"]
    candidates.append(data / "results" / "training_feast.parquet")
    return next((path for path in candidates if path.exists()), None)


def _parts(path: str) -> dict[str, pd.DataFrame]:
    return split_frame(pd.read_parquet(path), SPLIT)


def _scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    result = scores(labels, predicted)
    return {name: result[name] for name in ("roc_auc", "pr_auc", "log_loss", "brier")}


def child_lgbm(path: str, model_dir: str) -> dict[str, Any]:
    parts = _parts(path)
    spec = FeatureSpec.fit(parts["train"])
    with Stopwatch() as matrices:
        train, valid, test = (xy(spec, parts[p]) for p in ("train", "valid", "test"))
    load_before = os.getloadavg()
    with Stopwatch() as clock:
        model = train_lgbm(spec, train, valid)
    booster = model.booster
    rounds = min(booster.best_iteration + EARLY_STOPPING_ROUNDS, MAX_ROUNDS)
    directory = Path(model_dir)
    model.save(directory)
    (directory / SPEC_FILE).write_text(json.dumps(spec.to_metadata()))
    return {
        "rows": {name: len(frame) for name, frame in parts.items()},
        "features": len(spec.features),
        **clock.report,
        "matrices_s": matrices.seconds,
        "best_iteration": booster.best_iteration,
        "rounds_trained": rounds,
        "seconds_per_round": clock.seconds / rounds,
        "test": _scores(test[1], model.predict(test[0])),
        "valid": _scores(valid[1], model.predict(valid[0])),
        "loadavg_1m_before_after": [load_before[0], os.getloadavg()[0]],
        "peak_rss_mib": peak_rss_mib(),
    }


def child_torch(path: str, device_name: str, model_dir: str) -> dict[str, Any]:
    parts = _parts(path)
    spec = FeatureSpec.fit(parts["train"])
    train, valid, test = (xy(spec, parts[p]) for p in ("train", "valid", "test"))
    device = torch.device(device_name)
    config = MlpConfig()
    with Stopwatch() as clock:
        model = train_mlp(spec, train, valid, config, device)
    epochs = model.epoch_seconds
    model.network.cpu()
    if device.type == "cpu":
        directory = Path(model_dir)
        model.save(directory)
        (directory / SPEC_FILE).write_text(json.dumps(spec.to_metadata()))
        (directory / "mlp.json").write_text(json.dumps(model.metadata()))
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        **clock.report,
        "epochs": len(epochs),
        "epoch_seconds": epochs,
        "first_epoch_s": epochs[0],
        "median_epoch_s": statistics.median(epochs[1:] or epochs),
        "mean_epoch_s": sum(epochs) / len(epochs),
        "batch_size": config.batch_size,
        "test": _scores(test[1], model.predict(test[0])),
        "peak_rss_mib": peak_rss_mib(),
    }


def child_scoring(
    path: str, lgbm_dir: str, torch_dir: str, naive_rows: int, repeat: int
) -> dict[str, Any]:
    test = _parts(path)["test"]
    lgbm_spec = FeatureSpec.from_metadata(json.loads((Path(lgbm_dir) / SPEC_FILE).read_text()))
    lgbm = LgbmDelayModel.load(Path(lgbm_dir), lgbm_spec)
    torch_spec = FeatureSpec.from_metadata(json.loads((Path(torch_dir) / SPEC_FILE).read_text()))
    metadata = json.loads((Path(torch_dir) / "mlp.json").read_text())
    mlp = MlpDelayModel.load(Path(torch_dir), torch_spec, metadata)

    def batch(spec: FeatureSpec, predict: Any) -> dict[str, Any]:
        runs = []
        for _ in range(repeat):
            with Stopwatch() as total:
                with Stopwatch() as encode:
                    matrix = spec.matrix(test)
                predicted = predict(matrix)
            runs.append({**total.report, "matrix_s": encode.seconds})
        best = min(runs, key=lambda r: r["seconds"])
        return {
            "rows": len(test),
            **best,
            "median_s": statistics.median(r["seconds"] for r in runs),
            "rows_per_s": len(test) / best["seconds"],
            "matrix_share": best["matrix_s"] / best["seconds"],
            "predicted": predicted,
        }

    ours = batch(lgbm_spec, lgbm.predict)
    challenger = batch(torch_spec, mlp.predict)
    sample = test.sample(n=min(naive_rows, len(test)), random_state=7)
    records = sample.to_dict("records")  # what a request would bring: made outside the timer
    parts = {"frame": 0.0, "matrix": 0.0, "predict": 0.0}
    naive = np.empty(len(records))
    with Stopwatch() as clock:
        for i, record in enumerate(records):
            started = time.perf_counter()
            frame = pd.DataFrame([record])
            built = time.perf_counter()
            matrix = lgbm_spec.matrix(frame)
            encoded = time.perf_counter()
            naive[i] = lgbm.predict(matrix, num_threads=1)[0]
            parts["frame"] += built - started
            parts["matrix"] += encoded - built
            parts["predict"] += time.perf_counter() - encoded
    batch_on_sample = ours["predicted"][test.index.get_indexer(sample.index)]
    naive_rate = len(records) / clock.seconds
    return {
        "lgbm_batch": {k: v for k, v in ours.items() if k != "predicted"},
        "lgbm_naive": {
            "rows": len(records),
            **clock.report,
            **{f"{name}_per_row_ms": 1000 * s / len(records) for name, s in parts.items()},
            "rows_per_s": naive_rate,
            "max_abs_diff_vs_batch": float(np.abs(naive - batch_on_sample).max()),
        },
        "batch_over_naive": ours["rows_per_s"] / naive_rate,
        "torch_batch": {
            **{k: v for k, v in challenger.items() if k != "predicted"},
            "torch_threads": torch.get_num_threads(),
        },
        "peak_rss_mib": peak_rss_mib(),
    }


def child_ablation(path: str) -> dict[str, Any]:
    parts = _parts(path)
    variants = {"all features": FEATURES}
    for group, columns in FEATURE_GROUPS.items():
        variants[f"without {group}"] = [name for name in FEATURES if name not in columns]
    variants["schedule only"] = FEATURE_GROUPS["schedule"]
    rows: list[dict[str, Any]] = []
    for name, features in variants.items():
        spec = FeatureSpec.fit(parts["train"], features)
        train, valid, test = (xy(spec, parts[p]) for p in ("train", "valid", "test"))
        with Stopwatch() as clock:
            model = train_lgbm(spec, train, valid)
        result = _scores(test[1], model.predict(test[0]))
        rows.append(
            {
                "variant": name,
                "features": len(features),
                "best_iteration": model.booster.best_iteration,
                "train_s": clock.seconds,
                "others_cores": clock.report["others_cores"],
                "test_roc_auc": result["roc_auc"],
                "test_pr_auc": result["pr_auc"],
            }
        )
    everything = rows[0]
    for row in rows:
        row["delta_roc_auc"] = row["test_roc_auc"] - everything["test_roc_auc"]
        row["delta_pr_auc"] = row["test_pr_auc"] - everything["test_pr_auc"]
    return {"variants": rows, "peak_rss_mib": peak_rss_mib()}


def run(data: Path, naive_rows: int, repeat: int, ablation: bool) -> dict[str, Any]:
    module, path = "benchmarks.models", training_set_path(data)
    if path is None:
        sys.exit(
            f"no training set under {data}: neither {home(data) / 'lake/training_set.parquet'} "
            f"nor {data / 'results/training_feast.parquet'} exists. Run "
            f"`benchmarks/run_all.sh {data}` first (prepare_lake builds the lake, feast_io "
            "writes the Feast point-in-time training set), or materialize the `training_set` "
            "asset into that lake."
        )
    print("training set:", path)
    with tempfile.TemporaryDirectory(prefix="bench-models-") as scratch:
        lgbm_dir, torch_dir = Path(scratch, "lgbm"), Path(scratch, "torch")
        lgbm_dir.mkdir()
        torch_dir.mkdir()
        lgbm_run = _ok(measure(module, "lgbm", str(path), str(lgbm_dir)))
        print("lgbm:", {k: v for k, v in lgbm_run.items() if k != "valid"})
        mlp = {"cpu": _ok(measure(module, "torch", str(path), "cpu", str(torch_dir)))}
        print("torch cpu:", {k: v for k, v in mlp["cpu"].items() if k != "epoch_seconds"})
        if torch.cuda.is_available():
            mlp["cuda"] = _ok(measure(module, "torch", str(path), "cuda", str(torch_dir)))
            print("torch cuda:", {k: v for k, v in mlp["cuda"].items() if k != "epoch_seconds"})
        scoring = _ok(
            measure(module, "scoring", str(path), str(lgbm_dir), str(torch_dir),
                    str(naive_rows), str(repeat))
        )  # fmt: skip
    print("scoring:", scoring)
    gpu = (
        {"cpu_over_gpu_epoch": mlp["cpu"]["median_epoch_s"] / mlp["cuda"]["median_epoch_s"]}
        if "cuda" in mlp
        else {"cuda": "no GPU on this machine (torch.cuda.is_available() is False)"}
    )
    variants = _ok(measure(module, "ablation", str(path)))["variants"] if ablation else []
    timed = {
        "lgbm training": lgbm_run,
        **{f"torch training ({device})": run_ for device, run_ in mlp.items()},
        "lgbm batch scoring": scoring["lgbm_batch"],
        "lgbm naive scoring": scoring["lgbm_naive"],
        "torch batch scoring": scoring["torch_batch"],
        **{f"ablation: {row['variant']}": row for row in variants},
    }
    noisy = {
        name: round(run_["others_cores"], 2)
        for name, run_ in timed.items()
        if run_["others_cores"] > NOISY_CORES
    }
    result = {
        "training_set": str(path),
        "split": SPLIT.describe(),
        "versions": {"lightgbm": lgb.__version__, "torch": torch.__version__},
        "lgbm": {
            **lgbm_run,
            "goal_s": GOAL_LGBM_S,
            "meets_goal": lgbm_run["seconds"] <= GOAL_LGBM_S,
        },
        "torch": {**mlp, **gpu},
        "scoring": scoring,
        "ablation": variants,
        "noisy_timings": noisy,  # measurement: cores that other processes kept busy meanwhile
    }
    return result


def markdown(result: dict[str, Any]) -> str:
    """The tables to paste into RESULTS.md."""
    lgbm_run, mlp, scoring = result["lgbm"], result["torch"], result["scoring"]
    rows, split = lgbm_run["rows"], result["split"]
    training = [
        {
            "model": "LightGBM",
            "device": f"CPU, {os.cpu_count()} threads",
            "train_s": lgbm_run["seconds"],
            "iterations / epochs": f"best {lgbm_run['best_iteration']} of "
            f"{lgbm_run['rounds_trained']} rounds",
            "s per round / epoch": lgbm_run["seconds_per_round"],
            "test ROC-AUC": f"{lgbm_run['test']['roc_auc']:.4f}",
            "test PR-AUC": f"{lgbm_run['test']['pr_auc']:.4f}",
            "others' cores": lgbm_run["others_cores"],
        }
    ]
    for device, run_ in ((d, r) for d, r in mlp.items() if isinstance(r, dict)):
        threads = f", {run_['torch_threads']} threads" if device == "cpu" else ""
        training.append(
            {
                "model": "PyTorch MLP",
                "device": run_["device"] + threads,
                "train_s": run_["seconds"],
                "iterations / epochs": f"{run_['epochs']} epochs",
                "s per round / epoch": run_["median_epoch_s"],
                "test ROC-AUC": f"{run_['test']['roc_auc']:.4f}",
                "test PR-AUC": f"{run_['test']['pr_auc']:.4f}",
                "others' cores": run_["others_cores"],
            }
        )
    ours, naive, challenger = scoring["lgbm_batch"], scoring["lgbm_naive"], scoring["torch_batch"]
    ways = [
        ("LightGBM batch: frame -> matrix -> predict", ours, ours["matrix_s"]),
        (
            f"LightGBM naive: one-row DataFrame per flight, 1 thread ({naive['rows']:,} rows)",
            naive,
            naive["matrix_per_row_ms"] * naive["rows"] / 1000,
        ),
        (
            "PyTorch MLP batch on CPU: frame -> matrix -> predict",
            challenger,
            challenger["matrix_s"],
        ),
    ]
    scoring_rows = [
        {
            "way": way,
            "rows": run_["rows"],
            "seconds": run_["seconds"],
            "of which matrix_s": matrix_s,
            "rows_per_s": run_["rows_per_s"],
            "vs naive": f"{run_['rows_per_s'] / naive['rows_per_s']:,.0f}x",
            "others' cores": run_["others_cores"],
        }
        for way, run_, matrix_s in ways
    ]
    gpu = mlp.get("cuda")
    blocks = [
        f"Training: train {split['train']}, valid {split['valid']}, test {split['test']} "
        f"({rows['train']:,} / {rows['valid']:,} / {rows['test']:,} rows)",
        "",
        table(training),
        "",
        f"PyTorch CPU / GPU seconds per epoch: {mlp['cpu_over_gpu_epoch']:.1f}"
        if isinstance(gpu, dict)
        else f"PyTorch on CUDA: {gpu}",
        "",
        f"Scoring the {rows['test']:,} test rows (batch: best of the runs):",
        "",
        table(scoring_rows),
    ]
    if result["ablation"]:
        ablation = [
            {
                "LightGBM features": row["variant"],
                "columns": row["features"],
                "best iteration": row["best_iteration"],
                "train_s": row["train_s"],
                "test ROC-AUC": f"{row['test_roc_auc']:.4f}",
                "Δ ROC-AUC": f"{row['delta_roc_auc']:+.4f}",
                "test PR-AUC": f"{row['test_pr_auc']:.4f}",
                "Δ PR-AUC": f"{row['delta_pr_auc']:+.4f}",
                "others' cores": row["others_cores"],
            }
            for row in result["ablation"]
        ]
        blocks += ["", "Feature-group ablation (LightGBM, test window):", "", table(ablation)]
    noisy = result["noisy_timings"]
    blocks += [
        "",
        f"Noisy timings (other processes kept more than {NOISY_CORES} cores busy): {noisy}"
        if noisy
        else f"No timing was disturbed by other processes (each under {NOISY_CORES} busy cores).",
    ]
    return "\n".join(blocks)


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    if "failed" in result:
        raise RuntimeError(f"{result['failed']}\n{result['stderr_tail']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--naive-rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="batch-scoring runs (best kept)")
    parser.add_argument("--no-ablation", dest="ablation", action="store_false")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "lgbm":
            emit(child_lgbm(*rest))
        elif kind == "torch":
            emit(child_torch(*rest))
        elif kind == "scoring":
            emit(child_scoring(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4])))
        else:
            emit(child_ablation(*rest))
        return
    result = run(args.data, args.naive_rows, args.repeat, args.ablation)
    print(json.dumps(result, indent=2, default=str))
    print("saved", save(args.data, "models", result))
    print(markdown(result))


if __name__ == "__main__":
    main()
