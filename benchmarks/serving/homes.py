"""The serving home: a copy of the bench home whose online stores hold one day's features.

`<data>/serving_home` gets copies of `real/feast` and `real/bentoml` and a `lake/` of symlinks
to the real lake's tables (the asset's snapshots and the service's prediction log are written
beside them, never into the real lake). SQLite: the `online_features` asset is materialized for
the day. Redis: an isolated Feast project (registry in its own Postgres database, values in
Redis under that project), applied and filled with the same day's snapshot rows.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from flightpath.feed_calendar import FEED

PRODUCTION = "feature_store.production.yaml"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
REDIS = "127.0.0.1:6379"
OWN = ("online_snapshots", "prediction_log")  # written by the benchmark: not linked
ALIASES_SOURCE = "aliases.source.json"  # the home's aliases as copied, before `lineup`


@dataclass(frozen=True)
class Store:
    """How to open one online store: the environment a service process needs, too."""

    name: str
    profile: str
    project: str | None
    env: dict[str, str]

    def open(self, home: Path) -> Any:
        from feature_repo.store import open_store

        with patched_env(self.env):
            return open_store(str(home), self.profile, self.project)


def sqlite_store() -> Store:
    return Store("sqlite", "feature_store.yaml", None, {})


def redis_store(project: str) -> Store:
    env = {"FEAST_REDIS": REDIS, "FEAST_REGISTRY_URL": f"{POSTGRES.replace('://', '+psycopg://')}"
           f"/{project}", "FLIGHTPATH_FEAST_PROJECT": project}  # fmt: skip
    return Store("redis", PRODUCTION, project, env)


@contextmanager
def patched_env(env: dict[str, str]) -> Any:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def prepare_home(source: Path, target: Path, day: date) -> dict[str, Any]:
    """Copy `source`'s registries, link its lake, fill the SQLite online store for `day`."""
    import dagster as dg

    from assets.features.feature_store import online_features
    from resources.feature_store import FeatureStoreResource
    from resources.lake import Lake

    if target.exists():
        shutil.rmtree(target)
    (target / "lake").mkdir(parents=True)
    for part in ("feast", "bentoml"):
        shutil.copytree(source / part, target / part)
    (target / "feast" / "online_store.db").unlink(missing_ok=True)
    shutil.copy(target / "bentoml" / "aliases.json", target / "bentoml" / ALIASES_SOURCE)
    for entry in sorted((source / "lake").iterdir()):
        if entry.name not in OWN:
            (target / "lake" / entry.name).symlink_to(entry)
    # A fresh online store: apply creates its tables and points the views at this lake.
    FeatureStoreResource(home=str(target)).apply()
    result = dg.materialize(
        [online_features],
        partition_key=day.isoformat(),
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        resources={"lake": Lake(root=str(target / "lake")),
                   "feature_store": FeatureStoreResource(home=str(target))},
    )  # fmt: skip
    if not result.success:
        raise RuntimeError("online_features did not materialize")
    events = result.asset_materializations_for_node("online_features")
    keys = events[0].metadata["keys_per_view"].value if events else {}
    return {"keys_per_view": keys}


def lineup(home: Path, challenger: bool) -> dict[str, list[str]]:
    """Rewrite the copy's aliases: the champion alone, or with the challenger (shadow)."""
    path = home / "bentoml" / "aliases.json"
    aliases: dict[str, list[str]] = json.loads((home / "bentoml" / ALIASES_SOURCE).read_text())
    kept = {"champion": aliases["champion"][-1:]}
    if challenger and aliases.get("challenger"):
        kept["challenger"] = aliases["challenger"][-1:]
    path.write_text(json.dumps(kept, indent=1))
    return kept


def prepare_redis(home: Path, store: Store, day: date) -> dict[str, int]:
    """A fresh Postgres database and Feast project; the day's snapshot rows written to Redis."""
    import psycopg

    from assets.features.feature_store import ENTITY_VIEWS
    from resources.feature_store import FeatureStoreResource
    from resources.lake import Lake

    drop_redis(home, store)
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as pg:
        pg.execute(f'CREATE DATABASE "{store.project}"')
    with patched_env(store.env):
        resource = FeatureStoreResource(home=str(home), profile=store.profile,
                                        project=store.project)  # fmt: skip
        resource.apply()
        feast = resource.store()
        lake = Lake(root=str(home / "lake"))
        written = {}
        for view in ENTITY_VIEWS:
            frame: pd.DataFrame = lake.read_partition(f"online_snapshots/{view}", day)
            feast.write_to_online_store(view, frame)
            written[view] = len(frame)
    return written


def drop_redis(home: Path, store: Store) -> None:
    """Remove the project's Redis keys (Feast's teardown) and its Postgres database."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as pg:
        exists = pg.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (store.project,)).fetchone()  # fmt: skip
    if exists:
        try:
            store.open(home).teardown()
        except Exception as error:  # a half-made project: drop what is there
            print(f"teardown of {store.project}: {error}")
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{store.project}" WITH (FORCE)')


def request_bodies(home: Path, day: date, count: int, dests: set[str]) -> list[dict[str, Any]]:
    """One real flight of `day` per body (with a tail number and a destination the model knows),
    spread over the whole day."""
    from resources.lake import Lake

    flights = Lake(root=str(home / "lake")).read_partition("flights", day)
    flights = flights.dropna(subset=["tailnum"]).sort_values("sched_dep_utc")
    flights = flights[flights["dest"].isin(dests)]
    step = max(1, len(flights) // count)
    chosen = flights.iloc[::step].head(count)
    return [
        {"flights": [{"carrier": r.carrier, "flight": int(r.flight), "tailnum": r.tailnum,
                      "origin": r.origin, "dest": r.dest,
                      "sched_dep": pd.Timestamp(r.sched_dep_utc).tz_convert(FEED.timezone)
                      .isoformat()}]}
        for r in chosen.itertuples()
    ]  # fmt: skip
