"""deploy/: manifests Kubernetes 1.30-1.33 accept, no literal secret, images pinned as pyproject.

No Docker engine, kubectl, helm or API server runs here: the images are not built and the chart
is not rendered. What can be checked offline is: tests/test_k8s_contract.py covers what
dagster-k8s sends for our runs.
"""

import importlib
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
K8S_VERSIONS = ("1.30", "1.31", "1.32", "1.33")
SECRET_KEY = re.compile(r"(?i)(password|passwd|token|secret_access_key|api_keys?)$")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        for doc in _documents(path):
            if "apiVersion" in doc and doc.get("kind") != "Kustomization":
                yield path, doc


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        name, _, version = line.partition("==")
        pins[re.sub(r"\[.*\]", "", name).strip().lower()] = version.strip()
    return pins


def _pyproject_pins() -> dict[str, str]:
    return _pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def literal_secrets(node: Any, where: str = "") -> list[str]:
    """Places that hold a secret's value instead of a reference to a Secret."""
    found = []
    if isinstance(node, dict):
        if node.get("kind") == "Secret":
            found.append(f"{where}: a Secret object")
        if "name" in node and "value" in node and SECRET_KEY.search(str(node["name"])):
            found.append(f"{where}: env {node['name']} has a literal value")
        for key, value in node.items():
            if SECRET_KEY.search(str(key)) and isinstance(value, str | int) and value != "":
                found.append(f"{where}.{key}: literal value")
            found += literal_secrets(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += literal_secrets(item, f"{where}[{i}]")
    return found


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_strictly(version: str) -> None:
    kinds = set()
    for _, doc in _manifests():
        kubernetes_validate.validate(doc, version, strict=True)
        kinds.add(doc["kind"])
    assert {"Namespace", "ConfigMap", "StatefulSet", "Service", "Deployment",
            "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds  # fmt: skip


def test_a_misspelt_field_fails_validation() -> None:
    deployment = next(d for _, d in _manifests() if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def test_kustomizations_name_files_that_exist() -> None:
    for path in (DEPLOY / "k8s").rglob("kustomization.yaml"):
        spec = _documents(path)[0]
        named = [*spec.get("resources", []), *(p["path"] for p in spec.get("patches", []))]
        assert named, path
        for name in named:
            assert (path.parent / name).exists(), f"{path}: {name}"


def test_the_service_has_probes_autoscaling_and_a_disruption_budget() -> None:
    objects = {doc["kind"]: doc for path, doc in _manifests() if path.name == "bento.yaml"}
    pod = objects["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    labels = pod["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        selector = objects[kind]["spec"]["selector"]
        assert selector.get("matchLabels", selector).items() <= labels.items(), kind
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    assert target["name"] == objects["Deployment"]["metadata"]["name"]
    assert objects["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"


def test_no_literal_secret_is_shipped() -> None:
    files = [*DEPLOY.rglob("*.yaml"), ROOT / "bentos" / "bentofile.yaml"]
    found = [hit for f in files for doc in _documents(f) for hit in literal_secrets(doc, str(f))]
    assert found == []
    # Where the secrets are used, they come from Secrets or the environment.
    postgres = _documents(DEPLOY / "dagster.yaml")[0]["storage"]["postgres"]["postgres_db"]
    assert postgres["password"] == {"env": "DAGSTER_PG_PASSWORD"}


def test_the_secret_check_fires_on_a_literal() -> None:
    env = [{"name": "REDIS_PASSWORD", "value": "hunter2"}]
    assert literal_secrets({"env": env})
    assert literal_secrets({"postgresql": {"postgresqlPassword": "hunter2"}})
    assert literal_secrets({"kind": "Secret", "data": {}})
    assert not literal_secrets({"env": [{"name": "REDIS_PASSWORD", "valueFrom": {}}]})


def test_images_pin_what_pyproject_pins() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert _pins(re.findall(r'"([A-Za-z0-9_.,\-\[\]]+==[^"]+)"', dockerfile)) == _pyproject_pins()
    python = _documents(ROOT / "bentos" / "bentofile.yaml")[0]["python"]
    assert python == {"requirements_txt": "./bentos/requirements.lock.txt", "lock_packages": False}
    bento = _pins(_requirement_lines(ROOT / "bentos" / "requirements.in"))
    assert "bentoml" in bento and bento.items() <= _pyproject_pins().items()
    # The lock is `make bento-lock` of exactly these pins: rerun it after changing one.
    locked = _pins(_requirement_lines(ROOT / "bentos" / "requirements.lock.txt"))
    assert {name: locked.get(name) for name in bento} == bento
    # The service never imports Dagster.
    assert not [name for name in locked if name.startswith("dagster")]


def _requirement_lines(path: Path) -> list[str]:
    """A requirements file's requirements, without comments and options."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def test_entry_points_exist() -> None:
    cmd = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert cmd is not None
    argv = yaml.safe_load(cmd.group(1))
    values = _documents(DEPLOY / "helm" / "dagster-values.yaml")[0]
    grpc_args = values["dagster-user-deployments"]["deployments"][0]["dagsterApiGrpcArgs"]
    assert argv[:4] == ["dagster", "api", "grpc", "-m"] and grpc_args[0] == "-m"
    for module in (argv[4], grpc_args[1]):
        assert isinstance(importlib.import_module(module).defs, dg.Definitions)
    service = _documents(ROOT / "bentos" / "bentofile.yaml")[0]["service"]
    module, _, name = service.partition(":")
    assert (module, name) == ("bentos.service", "DelayService")
    assert getattr(importlib.import_module(module), name) is not None
    # Every file the image copies is in the repository.
    for source in re.findall(r"^COPY (.+) \S+$", (DEPLOY / "Dockerfile").read_text(), re.M):
        for name in source.split():
            assert (ROOT / name).exists(), name


def test_helm_values_say_what_the_instance_says() -> None:
    values = _documents(DEPLOY / "helm" / "dagster-values.yaml")[0]
    instance = _documents(DEPLOY / "dagster.yaml")[0]
    per_run = _documents(DEPLOY / "k8s" / "run-launcher" / "run_launcher.yaml")[0]
    assert values["runLauncher"]["config"]["customRunLauncher"] == per_run["run_launcher"]
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    limits = instance["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert queued["tagConcurrencyLimits"] == limits
    scheme = instance["storage"]["postgres"]["postgres_db"]["scheme"]
    assert values["postgresql"]["postgresqlScheme"] == scheme == "postgresql+psycopg2"
    per_step = _documents(DEPLOY / "k8s" / "per-step" / "run_launcher.yaml")[0]["run_launcher"]
    chart = _documents(DEPLOY / "helm" / "per-step-values.yaml")[0]["runLauncher"]["config"]
    chart = chart["k8sRunLauncher"]
    assert [s["name"] for s in chart["envSecrets"]] == per_step["config"]["env_secrets"]
    assert [c["name"] for c in chart["envConfigMaps"]] == per_step["config"]["env_config_maps"]
    assert chart["resources"] == per_step["config"]["resources"]
