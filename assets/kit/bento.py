"""A service packaged with its champion: `bentoml build` of bentos/ with the model inside, what a
Kubernetes Deployment runs. Flights' delay service and every use case's service are built here."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from flightpath.models.registry import ModelRegistry
from flightpath.usecase import USECASE_VARIABLE, UseCase
from resources.model_registry import ModelRegistryResource

ROOT = Path(__file__).resolve().parents[2]
BENTOFILE = ROOT / "bentos" / "bentofile.yaml"
USECASE_SERVICE = "bentos.usecase_service:UseCaseService"
# What the use-case service reads besides what the delay service does.
USECASE_LIBRARY = ["flightpath/home.py", "flightpath/usecase.py", "flightpath/quality/*.py"]


def bento_spec(champion: str) -> dict[str, Any]:
    """bentos/bentofile.yaml with `champion` inside."""
    spec: dict[str, Any] = yaml.safe_load(BENTOFILE.read_text())
    spec["models"] = [champion]
    spec["labels"]["champion"] = champion.replace(":", "-")  # label values allow no colon
    return spec


def build_bento(
    registry: ModelRegistry, spec: dict[str, Any], env: dict[str, str] | None = None
) -> str:
    """`bentoml build` of the checkout as `spec` says, into the registry's BentoML store; the
    bento's tag. `env`: what importing the service needs (the build imports it)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=BENTOFILE.parent) as bentofile:
        yaml.safe_dump(spec, bentofile)
        bentofile.flush()
        built = subprocess.run(
            [str(Path(sys.executable).parent / "bentoml"), "build", "-f", bentofile.name,
             "-o", "tag", str(ROOT)],
            env={**os.environ, **(env or {}), "BENTOML_HOME": str(registry.root)},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if built.returncode != 0:
        raise RuntimeError(f"bentoml build failed:\n{built.stderr[-3000:]}")
    return built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")


def built(bento: str, champion: str, registry: ModelRegistry) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"bento": bento, "champion": champion, "bentoml_home": str(registry.root),
                  "serve": f"BENTOML_HOME={registry.root} bentoml serve {bento}"},
        data_version=dg.DataVersion(bento),
    )  # fmt: skip


def _module_files(reference: str) -> list[str]:
    """The files that import `module` of `module:attribute`: its packages' and its own."""
    parts = reference.partition(":")[0].split(".")
    packages = ["/".join(parts[:n]) + "/__init__.py" for n in range(1, len(parts))]
    return [*packages, "/".join(parts) + ".py"]


def usecase_bento_asset(usecase: UseCase, reference: str) -> dg.AssetsDefinition:
    """The use case's service (`bentos/usecase_service.py`) with its champion inside; the image
    names the use case (`reference`, `module:attribute`) in FLIGHTPATH_USECASE."""

    @dg.asset(
        key=usecase.key("service_bento"),
        deps=[usecase.key("champion")],
        group_name=usecase.group,
        description=f"`bentoml build` of the {usecase.name} service with its champion inside: "
        "what a Kubernetes Deployment runs. The running service also follows the alias.",
        kinds={"bentoml"},
    )
    def service_bento(model_registry: ModelRegistryResource) -> dg.MaterializeResult:
        registry = model_registry.registry()
        tag = registry.alias(usecase.champion_alias)
        if tag is None:
            raise ValueError(f"no champion to package: `{usecase.champion_alias}` points at none")
        spec = bento_spec(tag)
        spec["service"] = USECASE_SERVICE
        spec["labels"]["use_case"] = usecase.name
        spec["include"] = [*spec["include"], *USECASE_LIBRARY, *_module_files(reference)]
        names = {USECASE_VARIABLE: reference}
        spec["envs"] = [{"name": name, "value": value} for name, value in names.items()]
        return built(build_bento(registry, spec, names), tag, registry)

    return service_bento
