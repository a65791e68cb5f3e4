"""The streaming path keeps the online store equal to the offline point-in-time values."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from assets.features.skew import compare_online_offline
from flightpath.entity_views import ENTITY_VIEWS, push_source
from flightpath.streaming.consumer import seeded_state, stream
from flightpath.streaming.push import OnlinePush
from resources.feature_store import FeatureStoreResource
from resources.lake import Lake

START = datetime(2013, 1, 18, 5, 0, tzinfo=UTC)  # midnight in New York
T = datetime(2013, 1, 18, 22, 30, tzinfo=UTC)


@pytest.fixture
def streamed_store(feature_home: Path, tmp_path: Path) -> FeatureStoreResource:
    """The feature home's registry, with an online store of its own for this test."""
    resource = FeatureStoreResource(home=str(feature_home), project=f"stream{tmp_path.name[-6:]}")
    resource.apply()
    return resource


def test_skew_check_passes_after_a_streamed_replay(
    feature_home: Path, streamed_store: FeatureStoreResource
) -> None:
    lake = Lake(root=str(feature_home / "lake"))
    store = streamed_store.store()
    stats = stream(lake, store, START, T)
    assert stats.events > 1000
    report = compare_online_offline(lake, store, T, per_view=60)
    assert report.compared > 500
    assert report.mismatches == []


def test_skew_check_fails_when_the_stream_stops_early(
    feature_home: Path, streamed_store: FeatureStoreResource
) -> None:
    lake = Lake(root=str(feature_home / "lake"))
    store = streamed_store.store()
    stream(lake, store, START, datetime(2013, 1, 18, 16, 0, tzinfo=UTC))
    report = compare_online_offline(lake, store, T, per_view=60)
    stale = {m["view"] for m in report.mismatches}
    assert {"origin_congestion", "carrier_history", "origin_weather"} <= stale


def test_online_push_writes_what_feast_push_writes(feature_home: Path, tmp_path: Path) -> None:
    """The views resolved once (flightpath.streaming.push) against `FeatureStore.push` itself."""
    from feast.data_source import PushMode

    lake = Lake(root=str(feature_home / "lake"))
    rows = seeded_state(lake, START).snapshot(int(T.timestamp() * 1e6))
    stores = []
    for way in ("feast", "ours"):
        resource = FeatureStoreResource(
            home=str(feature_home), project=f"{way}{tmp_path.name[-6:]}"
        )
        resource.apply()
        stores.append(resource.store())
    feast_store, our_store = stores
    for view, frame in rows.items():
        feast_store.push(push_source(view), frame, to=PushMode.ONLINE)
    assert OnlinePush(our_store)(rows) == sum(len(frame) for frame in rows.values())

    for view, frame in rows.items():
        key = ENTITY_VIEWS[view].key
        features = [f"{view}:{column}" for column in ENTITY_VIEWS[view].columns]
        entities = [{key: value} for value in frame[key].unique()[:200]]
        read = [
            s.get_online_features(features=features, entity_rows=entities).to_dict(True)
            for s in stores
        ]
        assert read[0] == read[1], view
        written = [v for column in ENTITY_VIEWS[view].columns for v in read[1][column]]
        assert any(value is not None for value in written), view  # not two empty stores
