"""The README's commands, read from it as a user copies them, for the tests that run them."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_materialize_line() -> list[str]:
    """The README's command for materialising a day by hand, as its words (`flightpath ...`)."""
    found = re.search(r"`\.venv/bin/(flightpath materialize [^`]+)`", README.read_text())
    assert found, "the README shows no `.venv/bin/flightpath materialize` line"
    return found.group(1).split()
