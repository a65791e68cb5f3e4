"""The layers: each top-level package imports only from the packages below it.

Read statically with `ast` (nothing is imported), so the rule covers imports inside functions and
under `TYPE_CHECKING` too. The runtime check that the service never loads Dagster is in
tests/test_service.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

# Each package of ours and the packages of ours it may import besides itself (DESIGN.md's table).
MAY_IMPORT: dict[str, set[str]] = {
    "flightpath": set(),  # the library
    "feature_repo": {"flightpath"},
    "bentos": {"flightpath", "feature_repo"},
    "resources": {"flightpath", "feature_repo"},
    # Flights' own stages read the flights definition; the kit reads none (kit_violations).
    "assets": {"usecases", "resources", "flightpath", "feature_repo"},
    "usecases": {"flightpath"},  # definitions only: the kit builds their graphs
    "pipelines": {"usecases", "assets", "resources", "flightpath", "feature_repo"},
    "apps": {
        "pipelines",
        "usecases",
        "assets",
        "resources",
        "flightpath",
        "feature_repo",
        "bentos",
    },
}
OURS = set(MAY_IMPORT) | {"tests", "benchmarks"}  # no package imports the last two
DAGSTER_FREE = {"flightpath", "feature_repo", "bentos"}


def imports(package: str, root: Path = ROOT) -> Iterator[tuple[str, str]]:
    """(module, imported module) for every absolute import in `package`'s modules."""
    for path in sorted((root / package).rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                yield from ((module, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield module, node.module  # a relative import stays inside its package


def violations(package: str, root: Path = ROOT) -> list[str]:
    allowed = MAY_IMPORT[package] | {package}
    found = []
    for module, imported in imports(package, root):
        top = imported.split(".")[0]
        if top in OURS and top not in allowed:
            found.append(f"{module} imports {imported} ({top} is not below {package})")
        elif package in DAGSTER_FREE and (top == "dagster" or top.startswith("dagster_")):
            found.append(f"{module} imports {imported} ({package} knows no Dagster)")
    return found


def package_graph() -> dict[str, dict[str, str]]:
    """package -> {package of ours it imports: one module doing so, as `module -> import`}."""
    graph: dict[str, dict[str, str]] = {package: {} for package in MAY_IMPORT}
    for package in MAY_IMPORT:
        for module, imported in imports(package):
            top = imported.split(".")[0]
            if top in MAY_IMPORT and top != package:
                graph[package].setdefault(top, f"{module} -> {imported}")
    return graph


def find_cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    """A cycle of packages (first package repeated at the end), or None."""
    done: set[str] = set()

    def visit(package: str, path: list[str]) -> list[str] | None:
        if package in path:
            return [*path[path.index(package) :], package]
        if package in done:
            return None
        for target in sorted(graph[package]):
            cycle = visit(target, [*path, package])
            if cycle:
                return cycle
        done.add(package)
        return None

    for package in sorted(graph):
        cycle = visit(package, [])
        if cycle:
            return cycle
    return None


def test_every_package_of_ours_has_a_layer() -> None:
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages - OURS == set(), "add the new package to MAY_IMPORT with its layer"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_package_imports_only_what_is_below_it(package: str) -> None:
    found = violations(package)
    assert not found, "\n".join(found)


def test_no_cycle_between_packages() -> None:
    graph = package_graph()
    cycle = find_cycle(graph)
    assert cycle is None, (
        " -> ".join(cycle) + "; " + "; ".join(graph[a][b] for a, b in pairwise(cycle))
    )


def test_the_checks_catch_an_upward_import_dagster_and_a_cycle(tmp_path: Path) -> None:
    # The checks above pass on a clean tree; this shows they fail on a bad one.
    (tmp_path / "flightpath" / "streaming").mkdir(parents=True)
    (tmp_path / "flightpath" / "streaming" / "events.py").write_text(
        "from . import aggregates\nimport dagster as dg\n\n\n"
        "def events():\n    from resources.lake import Lake\n"
    )
    assert violations("flightpath", tmp_path) == [
        "flightpath.streaming.events imports dagster (flightpath knows no Dagster)",
        "flightpath.streaming.events imports resources.lake (resources is not below flightpath)",
    ]
    graph = {"flightpath": {"resources": "flightpath.x -> resources.y"}, "resources": {}}
    assert find_cycle(graph) is None
    graph["resources"]["flightpath"] = "resources.y -> flightpath.x"
    assert find_cycle(graph) == ["flightpath", "resources", "flightpath"]


# Inside assets/: the kit, the lifecycle of any use case, uses the shared logic only, never the
# flights use case's own modules (they are built from the kit, not the other way round).
KIT_MAY_IMPORT = ("assets.kit", "assets.metadata", "assets.quality")


def kit_violations(root: Path = ROOT) -> list[str]:
    return [
        f"{module} imports {imported} (the kit knows no use case)"
        for module, imported in imports("assets", root)
        if module.startswith("assets.kit.")
        and (
            imported.split(".")[0] == "usecases"
            or (
                imported.startswith("assets.")
                and not any(imported == p or imported.startswith(f"{p}.") for p in KIT_MAY_IMPORT)
            )
        )
    ]


def test_the_kit_imports_no_use_case_of_its_own(tmp_path: Path) -> None:
    assert kit_violations() == []
    (tmp_path / "assets" / "kit").mkdir(parents=True)
    (tmp_path / "assets" / "kit" / "models.py").write_text(
        "from assets.delay_models import champion\nfrom assets.quality.verdict import judge_files\n"
        "from usecases.flights.definition import FLIGHTS\n"
    )
    assert kit_violations(tmp_path) == [
        "assets.kit.models imports assets.delay_models (the kit knows no use case)",
        "assets.kit.models imports usecases.flights.definition (the kit knows no use case)",
    ]
