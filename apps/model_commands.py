"""`flightpath train` and `flightpath models list | promote TAG | rollback | history`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

from flightpath.feed_calendar import FEED
from flightpath.home import data_home

if TYPE_CHECKING:
    from flightpath.models.registry import ModelRegistry


def add_parsers(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train both models, evaluate them, promote through the gate"
    )
    for name, default in FEED.training_windows().items():
        train.add_argument(
            f"--{name.replace('_', '-')}", type=date.fromisoformat, default=default,
            metavar="YYYY-MM-DD", help=f"local day (default {default})",
        )  # fmt: skip

    models = commands.add_parser("models", help="the model registry: list, promote, rollback")
    actions = models.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every model version, its test metrics and aliases")
    promote = actions.add_parser(
        "promote", help="make TAG the champion, bypassing the gate (not the artifact's checks)"
    )
    promote.add_argument("tag", metavar="TAG", help="e.g. delay_model_lgbm:abc123")
    promote.add_argument("--reason", default="promoted by hand")
    rollback = actions.add_parser("rollback", help="restore the previous champion")
    rollback.add_argument("--reason", default="rolled back by hand")
    actions.add_parser("history", help="every alias change, oldest first: when, who, what, why")


def run(args: argparse.Namespace) -> int:
    if args.command == "train":
        return _train(args)
    # here, not at the top: `flightpath --help` must not pay for dagster and bentoml
    from flightpath.home import bentoml_home
    from flightpath.models.registry import ModelRegistry, RegistryError

    registry = ModelRegistry(bentoml_home(data_home()))
    try:
        if args.action == "list":
            return _list(registry)
        if args.action == "history":
            for change in registry.history():
                print(f"{change.at}  {change.actor:16} {change.action:8} {change.alias:10} "
                      f"{change.tag}  (was {change.previous})  {change.reason}")  # fmt: skip
            return 0
        if args.action == "promote":  # who: FLIGHTPATH_ACTOR or the OS user (default_actor)
            change = registry.promote(args.tag, args.reason)
        else:
            change = registry.rollback(args.reason)
    except RegistryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"champion: {change.tag} (was {change.previous})")
    return 0


def _list(registry: ModelRegistry) -> int:
    aliases: dict[str, list[str]] = {}
    for alias, stack in registry.aliases().items():
        aliases.setdefault(stack[-1], []).append(alias)
    print(f"{'tag':40} {'framework':10} {'created (UTC)':20} {'test ROC-AUC':>12}  alias")
    for model in registry.models():
        tag = str(model.tag)
        metadata: dict[str, Any] = dict(model.info.metadata)
        test = metadata.get("metrics", {}).get("test", {})
        created = model.info.creation_time.strftime("%Y-%m-%d %H:%M:%S")
        marks = ", ".join(aliases.get(tag, []))
        damage = registry.damage(tag)
        if damage:
            marks += f"  BROKEN: {damage}"
        print(f"{tag:40} {model.info.labels.get('framework', ''):10} {created:20} "
              f"{test.get('roc_auc', float('nan')):12.4f}  {marks}")  # fmt: skip
    return 0


def _train(args: argparse.Namespace) -> int:
    from apps.ingest import train_models

    window = {name: getattr(args, name).isoformat() for name in FEED.training_windows()}
    summary, verdict = train_models(window)
    if verdict is not None:
        print(f"gate: {verdict}")
        if verdict.startswith("keep"):  # the gate refused the candidates: an answer, not an error
            return 0
    for step, error in summary.failed.items():
        print(f"  {step}: {error}", file=sys.stderr)
    return 1 if summary.failed else 0
