"""``python -m adpilot`` runs the CLI."""

from adpilot.entrypoints.cli import main

main()
