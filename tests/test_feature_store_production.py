"""The production profile on real services: Feast's registry on Postgres, online store on Redis."""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import redis

from resources.feature_store import FeatureStoreResource
from resources.lake import Lake
from tests.services import POSTGRES_SERVER, production_feature_store


@pytest.fixture
def production_store(
    feature_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FeatureStoreResource]:
    with production_feature_store(feature_home, monkeypatch, "flightpath_test") as resource:
        yield resource


def test_registry_in_postgres_and_values_in_redis(
    production_store: FeatureStoreResource, feature_home: Path
) -> None:
    names = production_store.apply()
    assert "delay_model_serving" in names
    store = production_store.store()
    assert store.get_feature_service("delay_model_serving").name == "delay_model_serving"
    with psycopg.connect(f"{POSTGRES_SERVER}/{production_store.project}") as pg:
        registered = pg.execute("SELECT count(*) FROM feature_views").fetchone()
    assert registered is not None and registered[0] >= 6

    lake = Lake(root=str(feature_home / "lake"))
    carriers = pd.concat(
        [lake.read_partition("online_snapshots/carrier_history", day)
         for day in pd.to_datetime(["2013-01-17"]).date]
    )  # fmt: skip
    store.write_to_online_store("carrier_history", carriers)
    online = store.get_online_features(
        features=["carrier_history:carrier_late_rate_30d"],
        entity_rows=[{"carrier": c} for c in carriers["carrier"]],
    ).to_df()
    assert list(online["carrier_late_rate_30d"]) == list(carriers["carrier_late_rate_30d"])
    keys = redis.Redis(host="127.0.0.1", port=6379).keys("*")
    assert keys, "the online values live in Redis"
