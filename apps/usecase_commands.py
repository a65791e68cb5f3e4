"""`flightpath usecase NAME train | models | rollback | lineage | serve`: one use case's lifecycle
job, its models under its own champion alias, what a prediction came from, and its service
(bentos/usecase_service.py)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from flightpath.home import bentoml_home, data_home, lake_root
from usecases import USECASES

SERVICE = "bentos.usecase_service:UseCaseService"


def add_parsers(commands: argparse._SubParsersAction) -> None:
    usecase = commands.add_parser("usecase", help="a use case's stages: " + ", ".join(USECASES))
    names = usecase.add_subparsers(dest="usecase", required=True, metavar="NAME")
    for name in USECASES:
        actions = names.add_parser(name, help=f"the {name} use case")
        stages = actions.add_subparsers(dest="action", required=True)
        stages.add_parser(
            "train", help="run its lifecycle job (data to champion, then monitoring) on the "
            "instance `flightpath dev` shows",
        )  # fmt: skip
        stages.add_parser("models", help="its model versions, test ROC-AUC, the champion")
        rollback = stages.add_parser("rollback", help="restore its previous champion")
        rollback.add_argument("--reason", default="rolled back by hand")
        lineage = stages.add_parser(
            "lineage", help="what a prediction or model of it came from: training run, "
            "training set, feature service, code version",
        )  # fmt: skip
        lineage.add_argument(
            "ref", metavar="REF", help="a request id from its prediction log, a model tag "
            f"(name:version) or an alias ({name}/champion, {name}/challenger)",
        )  # fmt: skip
        lineage.add_argument("--json", action="store_true", help="the whole chain as JSON")
        serve = stages.add_parser(
            "serve", help="its prediction service (BentoML) on this data home, with a curl to try"
        )
        serve.add_argument("--port", type=int, default=3002)
        serve.add_argument(
            "--no-auth", action="store_true",
            help="serve without API keys (a local demo only; also FLIGHTPATH_AUTH=off)",
        )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.action == "train":
        return train(args.usecase)
    if args.action in ("models", "rollback"):
        return models(args.usecase, getattr(args, "reason", None))
    if args.action == "lineage":
        from apps.cli import lineage_command
        from apps.lineage import usecase_log
        from usecases import load_usecase

        return lineage_command(args.ref, args.json, False, usecase_log(load_usecase(args.usecase)))
    return serve(args.usecase, args.port, args.no_auth)


def train(name: str) -> int:
    """Become `dagster job execute` of the use case's lifecycle job on the dev instance."""
    from apps.cli import dagster_on_dev_instance

    dagster = dagster_on_dev_instance()
    command = [str(dagster), "job", "execute", "-m", "pipelines.definitions",
               "-j", f"{name}_lifecycle"]  # fmt: skip
    os.execv(dagster, command)
    return 0  # unreachable: execv replaces this process


def models(name: str, rollback_reason: str | None) -> int:
    """List the use case's models (newest last), or roll its champion alias back."""
    from flightpath.models.registry import ModelRegistry, RegistryError
    from flightpath.usecase import MODEL_KINDS
    from usecases import load_usecase

    usecase = load_usecase(name)
    registry = ModelRegistry(bentoml_home(data_home()))
    if rollback_reason is not None:
        try:
            change = registry.rollback(rollback_reason, usecase.champion_alias)
        except RegistryError as error:
            print(f"flightpath usecase {name} rollback: {error}", file=sys.stderr)
            return 1
        print(f"{usecase.champion_alias}: {change.previous} -> {change.tag}")
        return 0
    champion = registry.alias(usecase.champion_alias)
    for kind in MODEL_KINDS:
        for model in registry.models(usecase.model_name(kind)):
            metrics: dict = dict(registry.metadata(str(model.tag))).get("metrics", {})
            test = metrics.get("test", {})
            mark = "  <- champion" if str(model.tag) == champion else ""
            print(f"{model.tag!s:40} test ROC-AUC {test.get('roc_auc', float('nan')):.4f}{mark}")
    return 0


def serve_env(name: str, no_auth: bool = False) -> dict[str, str]:
    """What `bentoml serve` of the use case's service needs besides the caller's environment."""
    from flightpath.usecase import USECASE_VARIABLE  # pandas: not for `--help`

    home = data_home()
    env = {"FLIGHTPATH_HOME": str(home), "BENTOML_HOME": str(bentoml_home(home)),
           USECASE_VARIABLE: USECASES[name]}  # fmt: skip
    if no_auth:
        env["FLIGHTPATH_AUTH"] = "off"
    return env


def serve(name: str, port: int, no_auth: bool) -> int:
    """Print a request for an entity the lake has features for, then become `bentoml serve`."""
    from apps.serve_auth import serves_with_keys
    from usecases import load_usecase

    env = {**os.environ, **serve_env(name, no_auth)}
    auth = serves_with_keys(env, f"flightpath usecase {name} serve")
    if auth is None:
        return 2
    usecase = load_usecase(name)
    key_header = " -H 'X-API-Key: <one of FLIGHTPATH_API_KEYS>'" if auth else ""
    body = shlex.quote(
        json.dumps({usecase.entity: [_an_entity(usecase.entity, usecase.table("features"))]})
    )
    print(f"Starting the {name} prediction service on http://127.0.0.1:{port} (docs at /docs). "
          "Once it says it is listening, in another terminal:\n"
          f"  curl -s -X POST http://127.0.0.1:{port}/predict -H 'Content-Type: application/json'"
          f"{key_header} -d {body}\n", flush=True)  # fmt: skip
    bentoml = Path(sys.executable).parent / "bentoml"
    os.chdir(Path(__file__).resolve().parent.parent)  # the service is imported from the checkout
    command = [str(bentoml), "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)]
    os.execve(bentoml, command, env)
    return 0  # unreachable: execve replaces this process


def _an_entity(entity: str, table: str) -> object:
    """The first entity of the features table (a feed's: of its newest day); a placeholder
    before the kit has built it."""
    import pyarrow.parquet as pq

    from flightpath.lake import LakeFiles

    lake = LakeFiles(lake_root())
    days = sorted(lake.path(table).glob("date=*/*.parquet"))
    path = days[-1] if days else lake.table_path(table)
    if not path.exists():
        print(f"(no {table} in the lake yet: materialise the use case's assets first)")
        return f"<{entity}>"
    with path.open("rb") as file:
        return pq.read_table(file, columns=[entity]).column(0)[0].as_py()
