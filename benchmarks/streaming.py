"""Online freshness under a live stream: micro-batched pushes vs one push per event (naive).

Modes: `batched` flat out (throughput), `batched_paced` on an accelerated clock fast enough to
deliver thousands of events a second (freshness while keeping up), both through `OnlinePush`
(each push source's views resolved once); `naive` one Feast `store.push` per event, as Feast's
docs show it; `per_event` one `OnlinePush` per event (what resolving the views once buys alone).

Usage: python benchmarks/streaming.py --home DATA_HOME [--days 14] [--naive-hours 6]
DATA_HOME must hold a validated lake (flights, weather, raw_planes) for the streamed period
and the 32 days before it. Each run uses a Feast project of its own in DATA_HOME/feast.
"""

import argparse
import json
import platform
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from feast import FeatureStore
from feast.data_source import PushMode

from flightpath.entity_views import push_source
from flightpath.streaming.consumer import StreamStats, stream
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake

START = datetime(2013, 2, 5, 5, 0, tzinfo=UTC)  # midnight in New York, after a month of history


def feast_push(store: FeatureStore) -> Callable[[dict[str, pd.DataFrame]], int]:
    """The way Feast's docs push: `store.push` per view, which looks the views up every call."""

    def push(rows: dict[str, pd.DataFrame]) -> int:
        for view, frame in rows.items():
            store.push(push_source(view), frame, to=PushMode.ONLINE)
        return sum(len(frame) for frame in rows.values())

    return push


def run(
    home: Path, name: str, hours: float, speed: float | None, flush_every: float, naive: bool
) -> dict:
    resource = FeatureStoreResource(home=str(home), project=f"bench_{name}")
    resource.apply()
    store = resource.store()
    stats: StreamStats = stream(
        Lake(root=str(home / "lake")),
        store,
        START,
        START + timedelta(hours=hours),
        speed=speed,
        flush_every=flush_every,
        push=feast_push(store) if naive else None,
    )
    return {
        "mode": name,
        "replayed_hours": hours,
        "speed": speed or "flat out",
        "events": stats.events,
        "pushes": stats.pushes,
        "events_per_s": round(stats.events_per_second),
        "freshness_p50_ms": round(stats.freshness(0.5) * 1000),
        "freshness_p99_ms": round(stats.freshness(0.99) * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--naive-hours", type=float, default=6)
    args = parser.parse_args()
    # 14 days hold ~23,600 events: at 300,000x the feed delivers ~6,000 events/s for ~4 s.
    results = [
        run(args.home, "batched", args.days * 24, None, flush_every=0.1, naive=False),
        run(args.home, "batched_paced", args.days * 24, 300_000, flush_every=0.1, naive=False),
        run(args.home, "naive", args.naive_hours, None, flush_every=0.0, naive=True),
        run(args.home, "per_event", args.naive_hours, None, flush_every=0.0, naive=False),
    ]
    batched, naive, per_event = results[0], results[2], results[3]
    summary = {
        "machine": platform.machine(),
        "results": results,
        "throughput_ratio": round(batched["events_per_s"] / max(naive["events_per_s"], 1), 1),
        "per_event_ratio": round(per_event["events_per_s"] / max(naive["events_per_s"], 1), 1),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
