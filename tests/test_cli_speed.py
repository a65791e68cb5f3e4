"""`flightpath --help`, every command's `--help` and usage errors answer without the ML stack."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).parent.parent
FLIGHTPATH = Path(sys.executable).parent / "flightpath"

# Importing any of these costs seconds; a command loads them in its handler, never to parse.
HEAVY = {
    "dagster",
    "feast",
    "bentoml",
    "torch",
    "lightgbm",
    "great_expectations",
    "duckdb",
    "pandas",
}

# Run in a fresh interpreter: import the CLI, then ask every command (found by walking the parser,
# so a new command is covered without touching this test) for its help, then each bad argument
# list; after each, note the exit code, the output and which heavy packages are loaded.
_PROBE = """
import argparse, contextlib, io, json, sys
import apps.cli as cli

HEAVY = set(sys.argv[1].split(","))
BAD = json.loads(sys.argv[2])

def heavy():
    return sorted({m.split(".")[0] for m in sys.modules} & HEAVY)

def commands(parser, prefix):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + [name]
                yield from commands(sub, prefix + [name])

results = [{"argv": [], "code": None, "out": "", "err": "", "heavy": heavy()}]
for argv in [["--help"]] + [c + ["--help"] for c in commands(cli.build_parser(), [])] + BAD:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit:
            code = exit.code
    results.append({"argv": argv, "code": code, "out": out.getvalue(), "err": err.getvalue(),
                    "heavy": heavy()})
print(json.dumps(results))
"""

# Bad arguments and the message argparse must give for each, before any handler runs.
BAD_ARGUMENTS = {
    ("bogus",): "invalid choice: 'bogus'",
    ("replay",): "the following arguments are required: --through",
    ("ingest", "--through", "2013-02-30"): "argument --through: invalid fromisoformat value",
    ("stream", "--from", "2013-01-18T05:00", "--through", "2013-01-19T05:00Z"): "give a time zone",
    ("models",): "the following arguments are required: action",
    ("models", "promote"): "the following arguments are required: TAG",
    ("serve", "--port", "http"): "argument --port: invalid int value: 'http'",
}


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def _probe() -> list[dict[str, Any]]:
    bad = json.dumps([list(argv) for argv in BAD_ARGUMENTS])
    probe = _run([sys.executable, "-c", _PROBE, ",".join(sorted(HEAVY)), bad])
    assert probe.returncode == 0, probe.stderr
    results: list[dict[str, Any]] = json.loads(probe.stdout)
    return results


def test_help_and_usage_errors_import_no_heavy_package() -> None:
    results = _probe()
    bad = len(BAD_ARGUMENTS)
    imported, helps, errors = results[0], results[1:-bad], results[-bad:]
    assert imported["heavy"] == [], "importing apps.cli loads the ML stack"
    # every command and nested action: `flightpath`, 10 commands, models' 4 actions
    assert len(helps) >= 15, [result["argv"] for result in helps]
    for result in helps:
        command = " ".join(["flightpath", *result["argv"][:-1]])
        assert result["code"] == 0, result
        assert result["out"].startswith(f"usage: {command}"), result
        assert result["heavy"] == [], f"`{command} --help` imports {result['heavy']}"
    for result, message in zip(errors, BAD_ARGUMENTS.values(), strict=True):
        assert result["code"] == 2, result
        assert message in result["err"], result
        assert result["heavy"] == [], f"`flightpath {result['argv']}` imports {result['heavy']}"


def test_console_script_answers_help_and_refuses_bad_arguments() -> None:
    helped = _run([str(FLIGHTPATH), "--help"])
    assert helped.returncode == 0, helped.stderr
    for command in ("replay", "stream", "ingest", "features", "train", "models", "lineage",
                    "serve", "story", "dev"):  # fmt: skip
        assert f"    {command}" in helped.stdout, command

    listed = _run([str(FLIGHTPATH), "models", "list", "--help"])
    assert listed.returncode == 0 and listed.stdout.startswith("usage: flightpath models list")

    refused = _run([str(FLIGHTPATH), "models", "list", "--bogus"])
    assert refused.returncode == 2 and refused.stdout == ""
    assert "error: unrecognized arguments: --bogus" in refused.stderr
