"""The use case service over HTTP: a real `bentoml serve` of MORTGAGE on a real Feast store.

The fixture is built here, not by the kit: the HMDA applications as a features table in the
lake, the use case's Feast objects applied and materialised, a small real LightGBM promoted to
`mortgage/champion`. One service start for the module.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.cli import main
from apps.lineage import LineageError, trace, usecase_log
from apps.service_process import running_service
from apps.usecase_commands import SERVICE, serve_env
from bentos.error_body import ErrorBody
from feature_repo.store import open_store
from feature_repo.usecase_objects import usecase_objects
from flightpath.home import bentoml_home
from flightpath.lake import LakeFiles
from flightpath.models.features import FeatureSpec
from flightpath.models.lgbm import train_lgbm
from flightpath.models.registry import ModelRegistry
from flightpath.quality.contracts import Kind
from flightpath.storage import lake_location
from tests.serving import API_KEY, clone_model, refused_models, wait_for
from usecases.mortgage.definition import MORTGAGE

ENTITY = MORTGAGE.entity
UNKNOWN = 999_999  # no application has this id
SWAP_SECONDS = 30


def features_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """The applications as the kit's features table (entity, as_of, features), and the labels."""
    applications = MORTGAGE.load().dropna(subset=[*MORTGAGE.features, "deny"])
    frame = pd.DataFrame({ENTITY: applications[ENTITY].astype("int64")})
    frame[MORTGAGE.event_column] = pd.Timestamp(MORTGAGE.snapshot_time)
    for name in MORTGAGE.features:
        kind = MORTGAGE.columns[name]
        column = applications[name]
        frame[name] = column.astype(
            {Kind.TEXT: str, Kind.INTEGER: "int64", Kind.NUMBER: "float64"}[kind]
        )
    return frame.reset_index(drop=True), (applications["deny"] == "yes").to_numpy(int)


def train_and_save(
    registry: ModelRegistry, frame: pd.DataFrame, labels: np.ndarray, seed: int
) -> str:
    """A small real LightGBM saved as the kit saves a use case's model; its tag."""
    spec = FeatureSpec(
        features=MORTGAGE.features,
        vocabularies={name: sorted(frame[name].unique()) for name in MORTGAGE.categorical},
    )
    windows = frame[ENTITY].map(MORTGAGE.holdout.window_of)
    train, valid = (windows == "train").to_numpy(), (windows != "train").to_numpy()
    matrix = spec.matrix(frame)
    model = train_lgbm(spec, (matrix[train], labels[train]), (matrix[valid], labels[valid]),
                       {"seed": seed, "num_leaves": 7 + seed, "min_data_in_leaf": 20})  # fmt: skip
    with registry.create(MORTGAGE.model_name("lgbm"), "lightgbm", spec.to_metadata()) as saved:
        model.save(Path(saved.path))
    return str(saved.tag)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return features_frame()


@pytest.fixture(scope="module")
def home(
    tmp_path_factory: pytest.TempPathFactory, data: tuple[pd.DataFrame, np.ndarray]
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("usecase_service")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FLIGHTPATH_HOME", str(home))
        lake = lake_location(home)
        LakeFiles(lake).write_table(MORTGAGE.table("features"), data[0])
        store = open_store(str(home), project=MORTGAGE.feast_project)
        store.apply(list(usecase_objects(MORTGAGE, lake).values()))
        instant = MORTGAGE.snapshot_time
        store.materialize(instant - timedelta(days=1), instant + timedelta(days=1))
        registry = ModelRegistry(bentoml_home(home))
        registry.promote(train_and_save(registry, *data, seed=1), "first", MORTGAGE.champion_alias)
        yield home


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[httpx.Client]:
    env = {**serve_env("mortgage"), "FLIGHTPATH_API_KEYS": API_KEY, "FLIGHTPATH_WORKERS": "1"}
    with running_service(home, env, headers={"X-API-Key": API_KEY}, target=SERVICE) as client:
        yield client


def _predict(client: httpx.Client, ids: Sequence[object]) -> httpx.Response:
    return client.post("/predict", json={ENTITY: ids})


def _in_process(home: Path, tag: str, frame: pd.DataFrame, ids: list[int]) -> np.ndarray:
    model = ModelRegistry(bentoml_home(home)).load(tag)
    rows = frame.set_index(ENTITY).loc[ids, MORTGAGE.features].to_dict("records")
    return model.predict(model.spec.rows(rows))


def test_known_ids_get_the_champions_probability(
    client: httpx.Client, home: Path, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame = data[0]
    ids = [int(i) for i in frame[ENTITY].iloc[[0, 5, 17, 5]]]  # a repeat is answered twice
    response = _predict(client, ids)
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    champion = ModelRegistry(bentoml_home(home)).alias(MORTGAGE.champion_alias)
    assert [a[ENTITY] for a in answers] == ids
    expected = _in_process(home, str(champion), frame, ids)
    for answer, probability in zip(answers, expected, strict=True):
        assert 0 < answer["probability"] < 1
        assert answer["probability"] == pytest.approx(float(probability), rel=1e-6)
        assert answer[MORTGAGE.label] == (answer["probability"] >= 0.5)
        assert answer["model"] == champion
        assert datetime.fromisoformat(answer["features_as_of"]) == MORTGAGE.snapshot_time
    # Different applications, different risks: the features reached the model.
    assert len({round(a["probability"], 6) for a in answers}) > 1


def test_an_id_without_features_is_a_404_naming_it(
    client: httpx.Client, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    known = int(data[0][ENTITY].iloc[0])
    response = _predict(client, [known, UNKNOWN])
    assert response.status_code == 404, response.text
    body = ErrorBody.model_validate_json(response.text)
    assert [f.field for f in body.fields] == [f"{ENTITY}.1"]
    assert f"{ENTITY} {UNKNOWN} " in body.error and f"{ENTITY} {known} " not in body.error


BAD_BODIES: dict[str, tuple[Callable[[httpx.Client], httpx.Response], str]] = {
    "id not a number": (lambda c: c.post("/predict", json={ENTITY: [1, "abc"]}), f"{ENTITY}.1"),
    "no ids": (lambda c: c.post("/predict", json={ENTITY: []}), ENTITY),
    "entity missing": (lambda c: c.post("/predict", json={}), ENTITY),
    "another field": (lambda c: c.post("/predict", json={ENTITY: [1], "x": 1}), "x"),
    "ids not a list": (lambda c: c.post("/predict", json={ENTITY: 7}), ENTITY),
    "not JSON": (
        lambda c: c.post("/predict", content=b"{no", headers={"content-type": "application/json"}),
        "body",
    ),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_a_bad_body_is_a_4xx_naming_the_field(client: httpx.Client, case: str) -> None:
    send, field = BAD_BODIES[case]
    response = send(client)
    assert 400 <= response.status_code < 500, response.text
    body = ErrorBody.model_validate_json(response.text)
    assert field in [f.field for f in body.fields], body


def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.post("/predict", json={ENTITY: [1]}, headers={"X-API-Key": ""}).status_code == 401
    _predict(client, [1])
    counted = {
        sample.labels.get("usecase"): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        if family.name == "flightpath_usecase_predictions"
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    assert counted.get(MORTGAGE.name, 0) >= 1


def _answering(client: httpx.Client, ids: list[int]) -> str:
    response = _predict(client, ids)
    assert response.status_code == 200, response.text  # never an error during a swap
    return str(response.json()["predictions"][0]["model"])


def test_a_promoted_model_swaps_in_and_a_broken_one_is_refused(
    client: httpx.Client, home: Path, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    registry = ModelRegistry(bentoml_home(home))
    ids = [int(data[0][ENTITY].iloc[3])]
    first = str(registry.alias(MORTGAGE.champion_alias))
    assert _answering(client, ids) == first

    second = train_and_save(registry, *data, seed=2)
    registry.promote(second, "retrained", MORTGAGE.champion_alias)
    wait_for(lambda: _answering(client, ids) == second, SWAP_SECONDS)
    expected = _in_process(home, second, data[0], ids)[0]
    assert _predict(client, ids).json()["predictions"][0]["probability"] == pytest.approx(
        float(expected), rel=1e-6
    )

    # A champion whose file was damaged after its save, pushed past `promote`'s check (a hand
    # edit of the aliases): refused, and the model being served keeps answering.
    broken = clone_model(registry, second)
    model_file = Path(registry.get(broken).path) / "model.txt"
    model_file.write_bytes(model_file.read_bytes()[:1000])
    aliases = registry.aliases()
    aliases[MORTGAGE.champion_alias].append(broken)
    (registry.root / "aliases.json").write_text(json.dumps(aliases))
    wait_for(
        lambda: refused_models(client).get((MORTGAGE.champion_alias, broken)) == 1.0, SWAP_SECONDS
    )
    assert _answering(client, ids) == second
    assert client.get("/readyz").status_code == 200


def _logged(home: Path) -> pd.DataFrame:
    """The use case's prediction log as written so far (the service flushes it every 5 s)."""
    log = Path(lake_location(home)) / MORTGAGE.table("prediction_log")
    files = list(log.glob("date=*/*.parquet"))
    return pd.concat(pd.read_parquet(path) for path in files) if files else pd.DataFrame()


def test_every_answer_is_logged_to_the_use_cases_prediction_log(
    client: httpx.Client, home: Path
) -> None:
    wait_for(lambda: len(_logged(home)) > 0, SWAP_SECONDS)
    rows = _logged(home)
    assert {ENTITY, "probability", MORTGAGE.label, "model", "request_id", "role"} <= set(
        rows.columns
    )
    assert rows["logged_at"].dt.tz is not None and (rows["logged_at"] <= datetime.now(UTC)).all()


def test_the_cli_refuses_to_serve_without_keys_and_says_how(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FLIGHTPATH_API_KEYS", raising=False)
    monkeypatch.delenv("FLIGHTPATH_AUTH", raising=False)
    assert main(["usecase", "mortgage", "serve"]) == 2
    assert "--no-auth" in capsys.readouterr().err


def test_a_store_outage_is_a_503_that_says_so_and_the_service_recovers(
    client: httpx.Client, home: Path, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    """The online store's table made unreadable under the running service, then given back."""
    store = open_store(str(home), project=MORTGAGE.feast_project)
    table = f"{MORTGAGE.feast_project}_{MORTGAGE.feature_view}"  # Feast's SQLite table name
    ids = [int(data[0][ENTITY].iloc[5])]
    with sqlite3.connect(store.config.online_store.path) as db:
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        for _ in range(5):  # through the circuit breaker: failed reads, then an open circuit
            response = _predict(client, ids)
            assert response.status_code == 503, response.text
            assert "online store" in response.json()["error"]
            assert int(response.headers["Retry-After"]) > 0
        assert client.get("/readyz").status_code == 503
    finally:
        with sqlite3.connect(store.config.online_store.path) as db:
            db.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
    wait_for(lambda: _predict(client, ids).status_code == 200, SWAP_SECONDS)
    assert client.get("/readyz").status_code == 200


def test_the_challenger_is_shadowed_off_the_request_path_and_only_logged(
    client: httpx.Client, home: Path, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    registry = ModelRegistry(bentoml_home(home))
    challenger = train_and_save(registry, *data, seed=3)
    registry.promote(challenger, "shadow it", MORTGAGE.challenger_alias)
    ids = [int(key) for key in data[0][ENTITY].iloc[7:10]]
    requests: list[str] = []

    def shadowed() -> bool:
        response = _predict(client, ids)
        assert response.status_code == 200, response.text
        assert {p["model"] for p in response.json()["predictions"]} != {challenger}
        requests.append(response.json()["request_id"])
        log = _logged(home)
        return bool(len(log)) and bool(
            ((log["role"] == "shadow") & log["request_id"].isin(requests)).any()
        )

    wait_for(shadowed, SWAP_SECONDS)
    log = _logged(home)
    shadow = log[(log["role"] == "shadow") & log["request_id"].isin(requests)]
    assert set(shadow["model"]) == {challenger}
    # Each shadowed request has the challenger's probability for every id the champion answered.
    request = shadow["request_id"].iloc[0]
    scored = shadow[shadow["request_id"] == request].set_index(ENTITY)["probability"]
    champion = log[(log["role"] == "champion") & (log["request_id"] == request)]
    assert sorted(scored.index) == sorted(champion[ENTITY]) == sorted(ids)
    expected = _in_process(home, challenger, data[0], ids)
    assert scored.loc[ids].to_numpy() == pytest.approx(expected, rel=1e-6)


def test_a_served_prediction_traces_back_to_the_models_behind_it(
    client: httpx.Client, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`flightpath usecase mortgage lineage REQUEST`: both roles of a request, from its own log."""
    log = _logged(home)
    shadowed = log[log["role"] == "shadow"]
    assert len(shadowed), "run after the shadow test: a request the challenger also scored"
    request = str(shadowed["request_id"].iloc[-1])
    lineage = trace(home, None, request[:12], usecase_log(MORTGAGE))
    assert lineage.request is not None and lineage.request.request_id == request
    logged = log[log["request_id"] == request]
    assert sorted((p.role, p.key, p.model) for p in lineage.request.predictions) == sorted(
        (role, str(key), model)
        for role, key, model in logged[["role", ENTITY, "model"]].itertuples(index=False)
    )
    assert {m.tag for m in lineage.models} == set(logged["model"])
    assert main(["usecase", "mortgage", "lineage", request]) == 0
    printed = capsys.readouterr().out
    assert f"request {request}" in printed and "flight_features" not in printed
    with pytest.raises(LineageError, match="mortgage/champion"):
        trace(home, None, "no-such-model", usecase_log(MORTGAGE))


def test_a_canary_share_of_ids_is_answered_by_the_challenger_the_same_ones_each_time(
    client: httpx.Client, home: Path, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    registry = ModelRegistry(bentoml_home(home))
    challenger = registry.alias(MORTGAGE.challenger_alias)
    assert challenger is not None, "run after the shadow test, which promotes a challenger"
    champion = _answering(client, [int(data[0][ENTITY].iloc[0])])  # the last one that verified
    ids = [int(key) for key in data[0][ENTITY].iloc[:60]]
    env = {**serve_env("mortgage"), "FLIGHTPATH_API_KEYS": API_KEY, "FLIGHTPATH_WORKERS": "1",
           "FLIGHTPATH_CANARY_FRACTION": "0.5"}  # fmt: skip
    with running_service(home, env, headers={"X-API-Key": API_KEY}, target=SERVICE) as canaried:
        first, again = (_predict(canaried, ids).json()["predictions"] for _ in range(2))
    roles = [answer["role"] for answer in first]
    assert 10 <= roles.count("canary") <= 50 and roles == [a["role"] for a in again]
    assert {(a["role"], a["model"]) for a in first} == {
        ("champion", champion),
        ("canary", challenger),
    }
    canary_ids = [a[ENTITY] for a in first if a["role"] == "canary"]
    expected = _in_process(home, challenger, data[0], canary_ids)
    got = [a["probability"] for a in first if a["role"] == "canary"]
    assert got == pytest.approx(list(expected), rel=1e-6)


def test_a_bad_canary_share_is_refused_before_any_worker_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLIGHTPATH_USECASE", serve_env("mortgage")["FLIGHTPATH_USECASE"])
    from bentos.usecase_service import UseCaseService

    monkeypatch.setenv("FLIGHTPATH_AUTH", "off")
    monkeypatch.setenv("FLIGHTPATH_CANARY_FRACTION", "2")
    with pytest.raises(ValueError, match="FLIGHTPATH_CANARY_FRACTION"):
        UseCaseService.inner.refuse_to_start()
