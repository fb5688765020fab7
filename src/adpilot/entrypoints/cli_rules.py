"""``adpilot rules``: check a user-rules file before the agent runs it (mounted by ``cli.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from adpilot.rules_file import RulesFileError, load_rules

# Exit status of a file that cannot be used: 2, like a usage error, so scripts can tell it from a crash.
INVALID = 2

app = typer.Typer(no_args_is_help=True, add_completion=False, help="User rules (YAML): validate a rules file.")
out = Console()
err = Console(stderr=True)


@app.callback()
def _rules() -> None:
    """User rules (YAML): see docs/rules.md for the format."""


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="The rules file (YAML).", show_default=False)],
) -> None:
    """Print each rule on one line, or every problem with its field path (exit status 2)."""
    try:
        rules = load_rules(file)
    except RulesFileError as exc:
        for problem in exc.problems:
            err.print(f"{file}: {problem}", markup=False, highlight=False, soft_wrap=True)
        err.print(f"{len(exc.problems)} problem(s); nothing loaded", markup=False, highlight=False)
        raise typer.Exit(INVALID) from None
    for rule in rules:
        out.print(rule.describe(), markup=False, highlight=False, soft_wrap=True)
    out.print(f"{len(rules)} rule(s) valid in {file}", markup=False, highlight=False, soft_wrap=True)
