"""The prediction service over HTTP: a real `bentoml serve` subprocess on a real data home."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from openapi_spec_validator import validate
from pydantic import ValidationError

from apps.cli import main
from bentos.error_body import ErrorBody
from bentos.guard import FAILURE_BURST, FAILURE_RATE
from bentos.schema import MAX_DAYS_AHEAD, YEAR_BEFORE_THE_FEED, Flight
from bentos.staleness import MAX_AGE_VARIABLE
from flightpath.home import bentoml_home
from flightpath.models.registry import CHALLENGER, CHAMPION, ModelRegistry
from tests.serving import (
    API_KEY,
    BURST_KEY,
    ROOT,
    flights_of,
    home_with_models,
    promote,
    register_models,
    serving,
)

DAY = date(2013, 1, 17)
SETTLED = 40  # answers in a row from the new champion: the workers answering have swapped
WRONG_KEY = "wrong-key-7f3a"  # the online store holds the end of this day (see feature_home)


@pytest.fixture(scope="module")
def home(feature_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the feature home with a LightGBM champion and an MLP challenger."""
    return home_with_models(feature_home, tmp_path_factory.mktemp("service") / "home")


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[httpx.Client]:
    with serving(home, FLIGHTPATH_RATE_LIMIT="100000") as client:
        yield client


@pytest.fixture(scope="module")
def flights(home: Path) -> list[dict]:
    return flights_of(home, DAY, 5)


def _predict(client: httpx.Client, flights: list[dict], **extra: object) -> httpx.Response:
    return client.post("/predict", json={"flights": flights, **extra})


def test_one_flight_and_a_batch(client: httpx.Client, flights: list[dict], home: Path) -> None:
    champion = ModelRegistry(bentoml_home(home)).alias(CHAMPION)
    single = _predict(client, flights[:1], explain=True)
    assert single.status_code == 200, single.text
    [answer] = single.json()["predictions"]
    assert 0 < answer["probability"] < 1
    assert answer["delayed"] == (answer["probability"] >= 0.5)
    assert answer["model"] == champion and answer["role"] == "champion"
    assert not answer["degraded"] and answer["missing"] == []
    assert all(v and v.startswith("2013-01-18T05:00") for v in answer["features_as_of"].values())
    assert len(answer["contributions"]) == 5
    batch = _predict(client, flights)
    assert batch.status_code == 200
    body = batch.json()
    assert [p["flight_id"].split("-")[0] for p in body["predictions"]] == [
        f"{f['carrier']}{f['flight']}" for f in flights
    ]
    assert body["predictions"][0]["probability"] == pytest.approx(answer["probability"])


# The change to the second flight of a request, the field named, and what its message says.
BAD_FLIGHTS: dict[str, tuple[dict[str, object], str, str]] = {
    "unknown origin": ({"origin": "BOS"}, "origin", "unknown origin airport BOS"),
    "unknown destination": ({"dest": "QQQ"}, "dest", "destination QQQ is not among"),
    "destination is the origin": (
        {"origin": "JFK", "dest": "JFK"}, "dest", "destination JFK is the origin"
    ),
    "time without zone": ({"sched_dep": "2013-01-17T08:00:00"}, "sched_dep", "timezone"),
    "malformed time": ({"sched_dep": "17/01/2013 8am"}, "sched_dep", "datetime"),
    "time long before the feed": (
        {"sched_dep": "2011-06-01T08:00:00Z"}, "sched_dep", "outside the feed"
    ),
    "time years ahead": ({"sched_dep": "2999-06-01T08:00:00Z"}, "sched_dep", "outside the feed"),
    "flight number out of range": ({"flight": 0}, "flight", "greater than or equal to 1"),
    "negative distance": ({"distance": -5}, "distance", "greater than 0"),
    "NaN distance": ({"distance": "NaN"}, "distance", "finite number"),
    "carrier not a code": ({"carrier": "United"}, "carrier", "pattern"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_FLIGHTS)
def test_bad_flights_get_a_400_naming_the_field_and_why(
    client: httpx.Client, flights: list[dict], case: str
) -> None:
    change, field, expected = BAD_FLIGHTS[case]
    response = _predict(client, [flights[0], {**flights[1], **change}])
    assert response.status_code == 400
    body = ErrorBody.model_validate_json(response.text)
    [problem] = body.fields
    assert problem.field == f"flights.1.{field}" and expected in problem.message, body
    assert body.error.startswith(f"flights.1.{field}: ")


def _refusals(client: httpx.Client, flights: list[dict]) -> dict[str, httpx.Response]:
    """One request per way the service says no, whoever says it (BentoML, pydantic, ours)."""
    url, json_type, no_tail = "/predict", {"content-type": "application/json"}, dict(flights[0])
    del no_tail["tailnum"]
    return {
        "body": client.post(url, content=b"{not json", headers=json_type),
        "flights": _predict(client, []),
        "flights.0.tailnum": _predict(client, [no_tail]),
        "explain": _predict(client, flights[:1], explain="perhaps"),
        "X-API-Key": client.post(url, json={"flights": flights[:1]}, headers={"X-API-Key": ""}),
        "Content-Type": client.post(url, content=b"x", headers={"content-type": "text/plain"}),
        "path": client.get("/no-such-route"),
    }


def test_every_refusal_has_one_body_shape_naming_the_field(
    client: httpx.Client, flights: list[dict]
) -> None:
    for field, response in _refusals(client, flights).items():
        assert 400 <= response.status_code < 500, (field, response.status_code)
        body = ErrorBody.model_validate_json(response.text)
        assert [p.field for p in body.fields] == [field], (field, response.text)
        assert response.headers["content-type"] == "application/json"


def test_the_docs_are_where_the_readme_and_the_banner_say(client: httpx.Client) -> None:
    """`/docs` in a browser (no key): the Swagger UI, its assets, and the document it reads."""
    readme = (ROOT / "README.md").read_text()
    assert "at `/docs`" in readme
    anonymous = httpx.Client(base_url=client.base_url, timeout=30)
    page = anonymous.get("/docs", follow_redirects=True)
    assert page.status_code == 200 and "swagger-ui" in page.text
    assets = re.findall(r'(?:href|src)="\./(static_content/[^"]+)"', page.text)
    assert len(assets) >= 4
    for asset in assets:
        assert anonymous.get(f"/{asset}").status_code == 200, asset
    assert anonymous.get("/docs.json").json()["paths"]["/predict"]


def test_missing_fields_empty_and_oversized_batches_and_bad_json_are_400(
    client: httpx.Client, flights: list[dict]
) -> None:
    missing = {k: v for k, v in flights[0].items() if k != "tailnum"}
    assert _predict(client, [missing]).status_code == 400
    assert "tailnum" in _predict(client, [missing]).text
    assert _predict(client, []).status_code == 400
    too_many = _predict(client, flights[:1] * 501)
    assert too_many.status_code == 400 and "at most 500" in too_many.text
    raw = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert raw.status_code == 400


def test_an_unknown_aircraft_is_answered_degraded(
    client: httpx.Client, flights: list[dict]
) -> None:
    response = _predict(client, [{**flights[0], "tailnum": "N0NEW0"}])
    assert response.status_code == 200
    [answer] = response.json()["predictions"]
    assert answer["degraded"] and "tail_prev_arr_delay" in answer["missing"]
    assert answer["features_as_of"]["aircraft"] is None
    assert answer["features_as_of"]["origin_congestion"] is not None


def test_fuzzed_requests_never_get_a_5xx(client: httpx.Client, flights: list[dict]) -> None:
    """Every field replaced by values of the wrong kind, shape or size: a 4xx, never a 5xx."""
    odd_values = [None, "", "é" * 300, -1, 0, 2**63, 1e308, True, [], {}, [1, 2], {"a": 1},
                  "2013-01-17T08:00:00+25:00", "NaN", "EWR\x00"]  # fmt: skip
    bodies: list[object] = [None, [], "flights", {"flights": None}, {"flights": {}},
                            {"flights": [None]}, {"flights": [[]]}, {"explain": "yes"}]  # fmt: skip
    for field in flights[0]:
        for value in odd_values:
            bodies.append({"flights": [{**flights[0], field: value}]})
    bodies.append({"flights": flights[:1], "explain": "perhaps"})
    statuses = {}
    for body in bodies:
        status = client.post("/predict", json=body).status_code
        statuses[repr(body)[:80]] = status
    assert all(s < 500 for s in statuses.values()), {b: s for b, s in statuses.items() if s >= 500}
    assert set(statuses.values()) == {400}, statuses


def test_openapi_describes_predict_and_is_valid_for_its_version(client: httpx.Client) -> None:
    spec = client.get("/docs.json").json()
    validate(spec)  # by the version the document declares (3.1.0)
    assert "/predict" in spec["paths"]
    schema = str(spec["components"])
    assert "sched_dep" in schema and "tailnum" in schema and "stale" in schema
    responses = spec["paths"]["/predict"]["post"]["responses"]
    for code in ("400", "401", "404", "413", "415", "429"):
        [media] = responses[code]["content"].values()
        assert media["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, code


def _stale(answer: dict) -> tuple[bool, list[str], set[float | None]]:
    return answer["stale"], answer["stale_views"], set(answer["features_age_hours"].values())


def test_features_are_fresh_or_flagged_stale_at_the_departure(
    client: httpx.Client, flights: list[dict], home: Path
) -> None:
    """The store holds features as of the end of Jan 17 (05:00 UTC on the 18th)."""
    next_day = flights_of(home, date(2013, 1, 18), 3)
    march = [{**f, "sched_dep": "2013-03-05T08:00:00-05:00"} for f in next_day]
    fresh, future, old = (_predict(client, batch).json()["predictions"]
                          for batch in (next_day, flights[:3], march))  # fmt: skip
    for answer in fresh:
        stale, views, ages = _stale(answer)
        assert not stale and views == [] and all(a is not None and 0 <= a <= 24 for a in ages)
    for answer in future:  # Jan 17 flights, answered with the day's end: their future
        stale, views, ages = _stale(answer)
        assert stale and len(views) == 5 and all(a is not None and a < 0 for a in ages)
    [march_first] = old[:1]
    assert _stale(march_first) == (True, sorted(march_first["features_as_of"]), {1112.0})
    metrics = httpx.get(f"{client.base_url}/metrics").text
    for reason in ("future", "too_old"):
        assert f'flightpath_stale_predictions_total{{reason="{reason}"}}' in metrics


def test_a_flight_scheduled_today_is_answered_from_the_store_as_stale(
    client: httpx.Client, flights: list[dict]
) -> None:
    """The store holds Jan 17, 2013: today's flight gets that, and is told how old it is."""
    departure = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    today = {**flights[0], "sched_dep": departure.isoformat()}
    response = _predict(client, [today])
    assert response.status_code == 200, response.text
    [answer] = response.json()["predictions"]
    assert not answer["degraded"] and 0 < answer["probability"] < 1
    assert set(answer["features_as_of"].values()) == {"2013-01-18T05:00:00+00:00"}
    stale, views, ages = _stale(answer)
    assert stale and views == sorted(answer["features_as_of"])
    assert all(a is not None and a > 24 * 365 * 13 for a in ages)  # over 13 years old


def test_the_schema_answers_from_a_year_before_the_feed_to_a_year_ahead() -> None:
    now = datetime.now(UTC)
    body = {"carrier": "UA", "flight": 1545, "tailnum": "N14228", "origin": "EWR", "dest": "IAH"}
    for departure in (YEAR_BEFORE_THE_FEED, datetime(2013, 7, 15, 12, tzinfo=UTC), now,
                      now + timedelta(days=MAX_DAYS_AHEAD - 1)):  # fmt: skip
        assert Flight.model_validate({**body, "sched_dep": departure}).sched_dep == departure
    for departure in (YEAR_BEFORE_THE_FEED - timedelta(seconds=1),
                      now + timedelta(days=MAX_DAYS_AHEAD + 1)):  # fmt: skip
        with pytest.raises(ValidationError, match="outside the feed"):
            Flight.model_validate({**body, "sched_dep": departure})


def _logged(home: Path, request_id: str) -> pd.DataFrame:
    """The request's rows in the prediction log, once the champion's and the shadow's are in."""
    # The log flushes every 5 s; on a machine busy with the other test process, the shadow's
    # rows once took longer than 20 s to follow the champion's (CI, stop 25).
    deadline = time.monotonic() + 60
    rows = pd.DataFrame()
    while time.monotonic() < deadline:  # the log is written in batches, every 5 s at most
        files = list((home / "lake" / "prediction_log").glob("date=*/*.parquet"))
        if files:
            rows = pd.concat([pd.read_parquet(f) for f in files])
            rows = rows[rows["request_id"] == request_id]
            if set(rows["role"]) == {"champion", "shadow"}:
                break
        time.sleep(0.5)
    return rows


def test_a_stale_answer_is_logged_stale_with_the_features_ages(
    client: httpx.Client, home: Path
) -> None:
    """A logged prediction says what its answer said about staleness, shadow scores included."""
    next_day = flights_of(home, date(2013, 1, 18), 2)
    march = {**next_day[1], "sched_dep": "2013-03-05T08:00:00-05:00"}
    body = _predict(client, [next_day[0], march]).json()
    answers = {a["flight_id"]: a for a in body["predictions"]}
    assert sorted(a["stale"] for a in answers.values()) == [False, True]  # both kinds logged
    rows = _logged(home, body["request_id"])
    assert len(rows) == 4
    for row in rows.itertuples():
        answer = answers[row.flight_id]
        assert row.stale == answer["stale"], row.role
        assert json.loads(row.stale_views) == answer["stale_views"]
        assert json.loads(row.features_age_hours) == answer["features_age_hours"]


def test_the_age_limit_is_configured_and_the_service_log_is_quiet(home: Path) -> None:
    """A 1-hour limit flags a next-day flight; BentoML's own deprecations stay out of the log."""
    next_day = flights_of(home, date(2013, 1, 18), 1)
    with serving(home, **{MAX_AGE_VARIABLE: "1"}) as client:
        [answer] = _predict(client, next_day).json()["predictions"]
        port = client.base_url.port
    assert answer["stale"] and min(answer["features_age_hours"].values()) > 1
    log = (home / f"serve-{port}.log").read_text()
    assert "Service flight_delay initialized" in log and "Running cleanup hook" in log
    assert "Warning" not in log, log


def test_every_answer_is_logged_with_the_shadow_challengers_own_score(
    flights: list[dict], home: Path, tmp_path: Path
) -> None:
    """Across both workers, and flushed at shutdown: no wait for the log's periodic write."""
    own = tmp_path / "home"
    shutil.copytree(home, own, ignore=shutil.ignore_patterns("prediction_log", "serve-*.log"))
    with serving(own, FLIGHTPATH_RATE_LIMIT="100000") as client:
        url, headers = f"{client.base_url}/predict", dict(client.headers)
        requests = [  # a connection each: they spread over the workers
            httpx.post(url, json={"flights": flights[:3]}, headers=headers).json()["request_id"]
            for _ in range(20)
        ]
    files = list((own / "lake" / "prediction_log").glob("date=*/*.parquet"))
    rows = pd.concat([pd.read_parquet(f) for f in files])
    assert sorted(rows["request_id"].unique()) == sorted(requests)
    for _, request in rows.groupby("request_id"):
        assert sorted(request["role"]) == ["champion"] * 3 + ["shadow"] * 3
        assert request["flight_id"].nunique() == 3
    assert rows["features"].str.contains("origin_dep_delay_mean_3h").all()
    registry = ModelRegistry(bentoml_home(own))
    shadow = rows[rows["role"] == "shadow"]
    tag = registry.alias(CHALLENGER)
    assert tag is not None and set(shadow["model"]) == {tag}
    challenger = registry.load(tag)
    records = [json.loads(features) for features in shadow["features"]]
    expected = challenger.predict(challenger.spec.rows(records))
    assert shadow["probability"].to_numpy() == pytest.approx(expected, abs=1e-6)


def test_a_promoted_champion_is_served_without_restart_or_errors(
    client: httpx.Client, flights: list[dict], home: Path
) -> None:
    new_champion, _ = register_models(home, seed=11)
    statuses: list[int] = []
    tags: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=client.base_url, headers=client.headers, timeout=30) as own:
            while not stop.is_set():
                response = _predict(own, flights[:2])
                statuses.append(response.status_code)
                if response.status_code == 200:
                    tags.append(response.json()["predictions"][0]["model"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    promote(home, new_champion)
    # Each worker swaps on its own poll: for a moment the two answer with different models.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and set(tags[-SETTLED:]) != {new_champion}:
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()
    assert statuses and set(statuses) == {200}
    assert set(tags[-SETTLED:]) == {new_champion} and tags[0] != new_champion


def test_a_rollback_reaches_the_running_service(
    client: httpx.Client, flights: list[dict], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flightpath models rollback` on the data home: the service answers with the previous
    champion within seconds, without a restart."""
    previous = ModelRegistry(bentoml_home(home)).alias(CHAMPION)
    newer, _ = register_models(home, seed=13)
    promote(home, newer)
    assert _served_by(client, flights, newer)
    monkeypatch.setenv("FLIGHTPATH_HOME", str(home))
    assert main(["models", "rollback", "--reason", "test: the newer model misbehaves"]) == 0
    assert ModelRegistry(bentoml_home(home)).alias(CHAMPION) == previous
    assert _served_by(client, flights, previous)


def _served_by(client: httpx.Client, flights: list[dict], tag: str | None) -> bool:
    """Whether the service answers with `tag` within 15 s."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        response = _predict(client, flights[:1])
        assert response.status_code == 200, response.text
        if response.json()["predictions"][0]["model"] == tag:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def broken_store_home(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same home with its SQLite online store unreadable: as if the store were down."""
    copy = tmp_path_factory.mktemp("broken") / "home"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("prediction_log", "serve-*.log"))
    (copy / "feast" / "online_store.db").unlink()
    (copy / "feast" / "online_store.db").mkdir()  # sqlite cannot open a directory
    return copy


def test_store_down_canary_auth_and_rate_limit(
    broken_store_home: Path, flights: list[dict], home: Path
) -> None:
    many = flights_of(home, DAY, 40)
    registry = ModelRegistry(bentoml_home(broken_store_home))
    # A key's burst of 8 (then 1/s), shared by the two workers: each admits 4, then 0.5/s.
    with serving(broken_store_home, ready="/healthz", FLIGHTPATH_RATE_LIMIT="1",
                 FLIGHTPATH_RATE_BURST="8",
                 FLIGHTPATH_CANARY_FRACTION="0.5", FLIGHTPATH_SHADOW_QUEUE_ROWS="0",
                 ) as client:  # fmt: skip
        assert client.get("/readyz").status_code == 503  # not ready: the store is unreachable
        response = _predict(client, flights[:2])
        assert response.status_code == 200, response.text
        for answer in response.json()["predictions"]:
            assert answer["degraded"] and 0 < answer["probability"] < 1
            assert {"origin_dep_delay_mean_3h", "temp", "tail_prev_arr_delay"} <= set(
                answer["missing"]
            )
            assert set(answer["features_as_of"].values()) == {None}

        # Canary: about half the flights are answered by the challenger, the same ones each time.
        first, again = (_predict(client, many).json()["predictions"] for _ in range(2))
        roles = [p["role"] for p in first]
        assert 8 <= roles.count("canary") <= 32 and roles == [p["role"] for p in again]
        by_role = {p["role"]: p["model"] for p in first}
        assert by_role == {
            "champion": registry.alias(CHAMPION),
            "canary": registry.alias("challenger"),
        }

        anonymous = httpx.post(f"{client.base_url}/predict", json={"flights": flights[:1]})
        assert anonymous.status_code == 401 and "X-API-Key" in anonymous.text
        wrong = httpx.post(f"{client.base_url}/predict", json={"flights": flights[:1]},
                           headers={"X-API-Key": "guess"})  # fmt: skip
        assert wrong.status_code == 401
        assert httpx.get(f"{client.base_url}/healthz").status_code == 200  # probes need no key
        metrics = httpx.get(f"{client.base_url}/metrics").text
        assert 'flightpath_degraded_predictions_total{reason="store_unreachable"}' in metrics
        # No room for shadow work: every shadow row dropped and counted, no request failed.
        assert re.search(r'flightpath_shadow_dropped_total\{reason="queue_full"\} [1-9]', metrics)

        started = time.monotonic()
        burst = [
            httpx.post(f"{client.base_url}/predict", json={"flights": flights[:1]},
                       headers={"X-API-Key": BURST_KEY})
            for _ in range(16)
        ]  # fmt: skip
        codes = [r.status_code for r in burst]
        # For the whole service, however the connections spread over its two workers.
        assert codes[0] == 200 and 429 in codes
        assert codes.count(200) <= 8 + 1 * (time.monotonic() - started)
        limited = burst[codes.index(429)]
        assert limited.headers["retry-after"] == "1" and "rate limit" in limited.text
        assert _predict(client, flights[:1]).status_code == 200  # another key is not throttled

        guesses: list[int] = []
        started = time.monotonic()
        while 429 not in guesses and len(guesses) < 100:  # a wrong key a time, as a guesser would
            guesses.append(httpx.post(f"{client.base_url}/predict", json={"flights": flights[:1]},
                                      headers={"X-API-Key": f"{WRONG_KEY}-{len(guesses)}"}
                                      ).status_code)  # fmt: skip
        allowed = FAILURE_BURST + FAILURE_RATE * (time.monotonic() - started)
        assert guesses[-1] == 429 and guesses.count(401) <= allowed, guesses
        time.sleep(0.2)
    log = next(broken_store_home.glob("serve-*.log")).read_text()
    assert all(key not in log for key in (API_KEY, BURST_KEY, WRONG_KEY, "guess"))


def test_the_service_never_imports_dagster_and_its_bento_holds_what_it_imports() -> None:
    probe = (
        "import json, sys, bentos.service; print(json.dumps(['dagster' in sys.modules, "
        "[getattr(m, '__file__', None) or '' for m in list(sys.modules.values())]]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         env={"FLIGHTPATH_AUTH": "off", "PATH": ""}, check=True)  # fmt: skip
    dagster, files = json.loads(out.stdout.strip().splitlines()[-1])
    assert dagster is False
    include = yaml.safe_load((ROOT / "bentos" / "bentofile.yaml").read_text())["include"]
    ours = [  # the repository's own modules, not those of a .venv inside the checkout
        path
        for path in (
            Path(f).relative_to(ROOT).as_posix() for f in files if Path(f).is_relative_to(ROOT)
        )
        if not path.startswith(".")
    ]
    assert "flightpath/feed_calendar.py" in ours
    assert [f for f in ours if not any(fnmatch(f, pattern) for pattern in include)] == []
