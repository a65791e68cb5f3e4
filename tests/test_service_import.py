"""Loading the service's definition, as `bentoml build` and `bentoml serve`'s main process do,
imports no Feast: Feast (and the torch it pulls in) took 6 of the 8 s of that import, paid at
every bento build. The workers import it when they open the store."""

from __future__ import annotations

import subprocess
import sys

from tests.serving import ROOT

PROBE = (
    "import sys\n"
    "import bentos.service\n"
    "print(sorted(name for name in sys.modules if name == 'feast' or name.startswith('feast.')))\n"
)


def test_loading_the_service_definition_imports_no_feast() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-2000:]
