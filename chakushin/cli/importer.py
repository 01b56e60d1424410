"""``chakushin import FILE``: lines, numbers and settings from CSV or JSON Lines (issue 18)."""

from __future__ import annotations

import click


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def import_command(file: str) -> None:
    """Import lines, numbers and their settings from FILE (CSV or JSON Lines)."""
    raise click.UsageError("not built yet")
