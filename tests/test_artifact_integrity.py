"""A broken model artifact never becomes champion and is never served.

A truncated LightGBM `model.txt` crashes (SIGSEGV / SIGABRT) whatever process parses it, so
every refusal here happens without the pytest process parsing a broken file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import torch

from apps.cli import main
from apps.service_process import free_port
from bentos.champion import ChampionWatcher
from flightpath.home import bentoml_home
from flightpath.models.registry import CHALLENGER, CHAMPION, ModelRegistry, RegistryError
from tests.serving import (
    ROOT,
    clone_model,
    flights_of,
    promote,
    refused_models,
    register_models,
    run_briefly,
    serving,
    wait_for,
)

DAY = date(2013, 1, 17)  # the online store holds the end of this day (see feature_home)
SERVICE_SECONDS = 30  # the watcher polls once a second; a refusal or a swap shows well before


@pytest.fixture(scope="module")
def home(feature_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the feature home with a LightGBM champion and an MLP challenger."""
    copy = tmp_path_factory.mktemp("integrity") / "home"
    shutil.copytree(feature_home, copy)
    champion, challenger = register_models(copy)
    promote(copy, champion, challenger)
    return copy


@pytest.fixture
def registry(home: Path, tmp_path: Path) -> ModelRegistry:
    """A copy of the home's model store alone (cheap): each test breaks its own models."""
    shutil.copytree(bentoml_home(home), bentoml_home(tmp_path))
    return ModelRegistry(bentoml_home(tmp_path))


def _truncate(name: str, keep: float = 0.5) -> Callable[[Path], None]:
    def edit(directory: Path) -> None:
        data = (directory / name).read_bytes()
        (directory / name).write_bytes(data[: int(len(data) * keep)])

    return edit


def _cut_the_middle(directory: Path) -> None:
    """Trees removed from the middle of model.txt, its trailer intact: LightGBM aborts on it."""
    data = (directory / "model.txt").read_bytes()
    start, end = data.index(b"\nTree=2\n"), data.index(b"\nTree=4\n")
    (directory / "model.txt").write_bytes(data[: start + 60] + data[end:])


def _stored(registry: ModelRegistry, tag: str, name: str = "") -> Path:
    """Where the store keeps `tag`'s file `name` (its folder without a name)."""
    return Path(registry.get(tag).path) / name


def _assert_refused(registry: ModelRegistry, tag: str, *patterns: str) -> None:
    """`promote` refuses `tag`: an error naming it, the alias and the history untouched."""
    aliases, history = registry.aliases(), registry.history()
    with pytest.raises(RegistryError) as refused:
        registry.promote(tag, "should be refused")
    for pattern in (re.escape(tag), *patterns):
        assert re.search(pattern, str(refused.value)), str(refused.value)
    assert registry.aliases() == aliases and registry.history() == history


def test_a_good_model_verifies_and_promotes_quietly(registry: ModelRegistry) -> None:
    for tag in (registry.alias(CHAMPION), registry.alias(CHALLENGER)):
        assert tag is not None
        registry.verify(tag)  # raises when refused
        assert registry.load(tag).predict is not None
    fresh = clone_model(registry, str(registry.alias(CHAMPION)))
    change = registry.promote(fresh, "a retrained model")
    assert registry.alias(CHAMPION) == fresh and registry.history()[-1] == change


def test_a_truncated_lightgbm_file_is_refused_at_promote(registry: ModelRegistry) -> None:
    champion = str(registry.alias(CHAMPION))
    broken = clone_model(registry, champion, _truncate("model.txt"))
    _assert_refused(registry, broken, "model.txt")
    with pytest.raises(RegistryError, match=r"model\.txt"):
        registry.load(broken)
    assert registry.alias(CHAMPION) == champion


def test_a_lightgbm_file_that_crashes_the_loader_is_refused_by_the_child_process(
    registry: ModelRegistry,
) -> None:
    broken = clone_model(registry, str(registry.alias(CHAMPION)), _cut_the_middle)
    _assert_refused(registry, broken, "model.txt", "crashed|SIG")


def test_a_model_corrupted_after_promotion_is_refused_at_load(registry: ModelRegistry) -> None:
    good = str(registry.alias(CHAMPION))
    tag = clone_model(registry, good)
    registry.promote(tag, "a good model")
    path = _stored(registry, tag, "model.txt")
    data = path.read_bytes()
    path.write_bytes(data[:-1] + b"X")  # one byte changed: the same length, the trailer broken
    with pytest.raises(RegistryError, match=f"{re.escape(tag)}.*model.txt.*checksum"):
        registry.load(tag)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RegistryError, match="checksum"):
        registry.load(tag)
    with pytest.raises(RegistryError, match="checksum"):
        registry.verify(tag)
    # Nor can a rollback return to it.
    registry.promote(clone_model(registry, good), "a later model")
    stacks, history = registry.aliases(), registry.history()
    with pytest.raises(RegistryError, match=f"{re.escape(tag)}.*checksum"):
        registry.rollback("back to the corrupted one")
    assert registry.aliases() == stacks and registry.history() == history


def test_a_truncated_torch_weights_file_is_refused(registry: ModelRegistry) -> None:
    challenger = str(registry.alias(CHALLENGER))
    broken = clone_model(registry, challenger, _truncate("weights.pt"))
    _assert_refused(registry, broken, "weights.pt")
    with pytest.raises(RegistryError, match=r"weights\.pt"):
        registry.load(broken)
    after = clone_model(registry, challenger)
    _truncate("weights.pt", keep=0.9)(_stored(registry, after))
    with pytest.raises(RegistryError, match=r"weights\.pt.*checksum"):
        registry.load(after)


class _Payload:
    """Unpickling this opens (creates) a file: what a hostile weights file could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def test_a_pickled_payload_in_torch_weights_is_refused_and_never_run(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    marker = tmp_path / "payload-ran"

    def hostile(directory: Path) -> None:
        state = torch.load(directory / "weights.pt", weights_only=True)
        torch.save({**state, "payload": _Payload(marker)}, directory / "weights.pt")

    tag = clone_model(registry, str(registry.alias(CHALLENGER)), hostile)
    with pytest.raises(RegistryError, match=r"weights\.pt"):
        registry.load(tag)
    _assert_refused(registry, tag, "weights.pt")
    assert not marker.exists()


NO_PICKLE = re.compile(
    r"\bimport pickle\b|\bfrom pickle\b|\bjoblib\b|\bcloudpickle\b|picklable_model"
    r"|custom_objects|torch\.load\((?!.*weights_only=True)"  # the whole call on one line
)


def test_no_pickle_on_any_load_path() -> None:
    for offence in ("torch.load(path)", "torch.load(f, weights_only=False)", "import pickle",
                    "import joblib", "bentoml.picklable_model.load_model(tag)"):  # fmt: skip
        assert NO_PICKLE.search(offence), offence
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("flightpath", "bentos", "assets", "resources", "pipelines")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if NO_PICKLE.search(line)
    ]
    assert offenders == []


def test_the_service_starts_on_the_last_champion_that_verifies_or_refuses_to_start(
    registry: ModelRegistry,
) -> None:
    good = str(registry.alias(CHAMPION))
    later = clone_model(registry, good)
    registry.promote(later, "a good model, corrupted on disk afterwards")
    _stored(registry, later, "model.txt").write_bytes(b"tree\nversion=v4\n")
    watcher = ChampionWatcher(registry, poll_seconds=60)
    try:
        assert watcher.lineup.champion.tag == good
        assert watcher.problem is not None and later in watcher.problem
        assert "model.txt" in watcher.problem
    finally:
        watcher.close()

    _truncate("model.txt")(_stored(registry, good))
    with pytest.raises(RuntimeError, match=f"no champion.*{re.escape(later)}.*{re.escape(good)}"):
        ChampionWatcher(registry, poll_seconds=60)


def test_bentoml_serve_exits_when_no_champion_verifies(home: Path, tmp_path: Path) -> None:
    """Refused in `bentoml serve`'s own process, with the reason: no worker crash-loop."""
    copy = tmp_path / "home"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("prediction_log", "serve-*.log"))
    registry = ModelRegistry(bentoml_home(copy))
    for tag in registry.aliases()[CHAMPION]:
        _truncate("model.txt")(_stored(registry, tag))
    env = {**os.environ, "FLIGHTPATH_HOME": str(copy), "BENTOML_HOME": str(bentoml_home(copy)),
           "FLIGHTPATH_API_KEYS": "k"}  # fmt: skip
    command = [str(Path(sys.executable).parent / "bentoml"), "serve", "bentos.service:DelayService",
               "--port", str(free_port())]  # fmt: skip
    code, out = run_briefly(command, env, 120)
    assert code != 0 and "no champion" in out and "verifies" in out, out[-2000:]


def test_cli_promote_refuses_broken_unknown_and_malformed_tags_in_one_line(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLIGHTPATH_HOME", str(registry.root.parent))
    monkeypatch.setenv("FLIGHTPATH_ACTOR", "alice")
    champion = registry.alias(CHAMPION)
    broken = clone_model(registry, str(champion), _truncate("model.txt"))
    for tag in (broken, "delay_model_lgbm:doesnotexist", "not a tag!", "delay_model_lgbm:"):
        assert main(["models", "promote", tag]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
        assert registry.alias(CHAMPION) == champion

    fresh = clone_model(registry, str(champion))
    assert main(["models", "promote", fresh, "--reason", "canary looked good"]) == 0
    capsys.readouterr()
    assert main(["models", "history"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert all(part in last for part in ("alice", "promote", fresh, "canary looked good"))
    assert registry.history()[-1].actor == "alice"

    # The listing marks a model whose files changed on disk, and only that one.
    _truncate("model.txt", keep=0.9)(_stored(registry, fresh))
    assert main(["models", "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "BROKEN: model.txt does not match its checksum" in rows[fresh]
    assert "champion" in rows[fresh] and "BROKEN" not in rows[str(champion)]


def _answering(client: httpx.Client, flights: list[dict]) -> str:
    response = client.post("/predict", json={"flights": flights})
    assert response.status_code == 200, response.text
    return str(response.json()["predictions"][0]["model"])


def _push_unverified(registry: ModelRegistry, tag: str) -> None:
    """Move the champion alias the way an older release or a hand edit would: no verification."""
    aliases = registry.aliases()
    aliases[CHAMPION].append(tag)
    (registry.root / "aliases.json").write_text(json.dumps(aliases))


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[httpx.Client]:
    with serving(home) as client:
        yield client


def test_a_running_service_keeps_the_last_good_model_and_reports_the_refusal(
    home: Path, client: httpx.Client
) -> None:
    registry = ModelRegistry(bentoml_home(home))
    flights = flights_of(home, DAY, 2)
    good = str(registry.alias(CHAMPION))
    assert _answering(client, flights) == good
    assert 1.0 not in refused_models(client).values()

    broken = clone_model(registry, good)
    _truncate("model.txt")(_stored(registry, broken))
    _push_unverified(registry, broken)
    wait_for(lambda: refused_models(client).get((CHAMPION, broken)) == 1.0, SERVICE_SECONDS)
    assert _answering(client, flights) == good
    assert client.get("/readyz").status_code == 200  # ready: it answers with the last good model

    fixed = clone_model(registry, good)
    registry.promote(fixed, "the retrained model, saved whole")
    wait_for(lambda: _answering(client, flights) == fixed, SERVICE_SECONDS)
    # Each API worker swaps on its own poll; the gauge (the max over workers) clears once all have.
    wait_for(lambda: refused_models(client).get((CHAMPION, broken)) == 0.0, SERVICE_SECONDS)
