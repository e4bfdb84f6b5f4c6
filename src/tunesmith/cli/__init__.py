"""The command line: prepare, inspect, train, generate, render, evaluate, models, bench, serve,
info.

The only package that prints. Each command is a thin wrapper around one library function;
a user's mistake (a TunesmithError) shows as one red line with exit code 2 for a bad
option or value and 1 otherwise; anything else is a bug and shows in full.
"""

# Importing the command modules registers their commands, in this order in --help.
from tunesmith.cli import data, training, music, models, bench, serve, info  # noqa: F401  # isort: skip
from tunesmith.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
