"""The PyTorch challenger's training on the CPU and on CUDA (when torch sees a GPU), in one run.

    python -m benchmarks.gpu_mlp --data .gpu/training_set.parquet [--repeat 3] [--json out.json]

Split by local day: train = all but the last 14 days, validate (early stopping) the next 7, test
the last 7. `FeatureSpec.fit` on the training rows, then `train_mlp` with the default
`MlpConfig` on each device: one untimed 1-epoch warm-up (CUDA context, cuBLAS handles), then
`--repeat` timed runs. `--whatif-batch N` adds a run per device with batch size N and the same
epoch budget (a what-if: `mlp.py`'s default is untouched); 0 leaves it out. `--cpu-threads N`
sets `torch.set_num_threads(N)`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from flightpath.models.features import FeatureSpec
from flightpath.models.metrics import scores
from flightpath.models.mlp import MlpConfig, train_mlp, training_device
from flightpath.models.splits import Split, local_days, split_frame, xy

Data = tuple[np.ndarray, np.ndarray]


def time_split(frame: pd.DataFrame) -> Split:
    days = local_days(frame)
    first, last = days.min(), days.max()
    return Split(first, last - timedelta(days=14), last - timedelta(days=7), last)


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = names[0] if names else platform.processor()
    return f"{cpu}, {torch.get_num_threads()} threads of {os.cpu_count()} cores"


def busy_cpu_s() -> float:
    """CPU seconds every process has used so far (user, nice, system, irq, softirq)."""
    ticks = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    user, nice, system, _, _, irq, softirq = map(int, ticks)
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def measure(
    label: str, spec: FeatureSpec, data: dict[str, Data], config: MlpConfig, device: torch.device
) -> dict[str, Any]:
    started, own, busy = time.perf_counter(), time.process_time(), busy_cpu_s()
    model = train_mlp(spec, data["train"], data["valid"], config, device)
    total = time.perf_counter() - started
    others = max(0.0, busy_cpu_s() - busy - (time.process_time() - own)) / total
    epochs = model.epoch_seconds
    return {
        "run": label,
        "device": device.type,
        "batch_size": config.batch_size,
        "epochs": len(epochs),
        "first_epoch_s": epochs[0],
        "median_epoch_s": statistics.median(epochs[1:] or epochs),
        "train_s": total,
        "others_cores": others,  # cores other processes kept busy meanwhile
        "test_roc_auc": scores(data["test"][1], model.predict(data["test"][0]))["roc_auc"],
        "epoch_seconds": [round(s, 4) for s in epochs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(".gpu/training_set.parquet"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--whatif-batch", type=int, default=16384)
    parser.add_argument("--cpu-threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.cpu_threads:
        torch.set_num_threads(args.cpu_threads)

    frame = pd.read_parquet(args.data)
    split = time_split(frame)
    parts = split_frame(frame, split)
    spec = FeatureSpec.fit(parts["train"])
    data = {name: xy(spec, part) for name, part in parts.items()}
    config = MlpConfig()
    devices = [torch.device("cpu")]
    if training_device().type == "cuda":
        devices.append(training_device())
    info = {
        "rows": {name: len(part) for name, part in parts.items()},
        "windows": split.describe(),
        "config": asdict(config),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machines": {d.type: machine(d) for d in devices},
    }
    print(json.dumps(info, indent=1), flush=True)

    results: list[dict[str, Any]] = []
    for device in devices:
        started = time.perf_counter()
        train_mlp(spec, data["train"], data["valid"], replace(config, max_epochs=1), device)
        print(f"{device.type} warm-up (1 epoch, untimed): {time.perf_counter() - started:.2f} s")
        for i in range(args.repeat):
            results.append(measure(f"{device.type} #{i + 1}", spec, data, config, device))
            print(results[-1], flush=True)
        if args.whatif_batch:
            whatif = replace(config, batch_size=args.whatif_batch)
            results.append(measure(f"what-if {device.type}", spec, data, whatif, device))
            print(results[-1], flush=True)

    columns = {
        "run": "{}", "batch_size": "{}", "epochs": "{}", "first_epoch_s": "{:.3f}",
        "median_epoch_s": "{:.4f}", "train_s": "{:.2f}", "test_roc_auc": "{:.4f}",
        "others_cores": "{:.2f}",
    }  # fmt: skip
    print("\n| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")
    for r in results:
        print("| " + " | ".join(f.format(r[key]) for key, f in columns.items()) + " |")
    ratios = {}
    for batch in sorted({r["batch_size"] for r in results}):
        by = {
            d: [r for r in results if r["device"] == d and r["batch_size"] == batch]
            for d in ("cpu", "cuda")
        }
        if by["cuda"]:
            ratios[batch] = {
                key: statistics.median(r[key] for r in by["cpu"])
                / statistics.median(r[key] for r in by["cuda"])
                for key in ("median_epoch_s", "train_s")
            }
            shown = ", ".join(f"{k} {v:.2f}x" for k, v in ratios[batch].items())
            print(f"CPU / CUDA at batch {batch}: {shown}")
    if not ratios:
        print("no CUDA: torch.cuda.is_available() is False")
    if args.json:
        args.json.write_text(json.dumps({**info, "results": results, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()
