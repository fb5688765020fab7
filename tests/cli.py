"""The command-line programs run as a user runs them: a fresh interpreter, a terminal of known width."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ADPILOT = (sys.executable, "-m", "adpilot")


def run_cli(
    *args: str,
    data_dir: Path | None = None,
    columns: int = 220,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    program: Sequence[str] = ADPILOT,
) -> subprocess.CompletedProcess[str]:
    """``program args`` (``adpilot`` by default) with its output captured; ``data_dir`` sets ADPILOT_DATA_DIR,
    ``columns`` the width rich lays tables out for, ``env`` adds variables."""
    full = {**os.environ, "COLUMNS": str(columns), **(env or {})}
    if data_dir is not None:
        full["ADPILOT_DATA_DIR"] = str(data_dir)
    return subprocess.run([*program, *args], capture_output=True, text=True, env=full, timeout=timeout)


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    """The standard output of a run that must have succeeded (a failure shows both streams)."""
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
