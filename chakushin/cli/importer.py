"""``chakushin import FILE``: lines, numbers and settings from CSV or JSON Lines (issue 18).

The work is ``store.importing``'s (imported when the command runs, so that
other commands do not load it): every row through ``store.service``, every
refused row reported with its line in the file and its column. Text: the
refusals on stderr, one line each (``error: line 12, mail_addresses: ...``),
and what was done on stdout; ``--json``: one report object on stdout. The exit
status is 1 when any row was refused or the import stopped, else 0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

import click

from chakushin.cli.app import App, Command, fail, pass_app

if TYPE_CHECKING:
    from store.importing import ImportReport


@click.command("import", cls=Command)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "jsonl"]),
    help="The file's format (default: by its extension, .csv or .jsonl; needed for -).",
)
@click.option("--dry-run", is_flag=True, help="Check every row; store nothing.")
@click.option(
    "--partial",
    is_flag=True,
    help="Store the rows that pass, each on its own (default: all or nothing).",
)
@pass_app
@click.pass_context
def import_command(
    ctx: click.Context,
    app: App,
    file: str,
    file_format: str | None,
    dry_run: bool,
    partial: bool,
) -> None:
    """Import lines, numbers and their settings from FILE (CSV or JSON Lines; - is stdin).

    One row per number: contract_number, number (empty for the contract
    number itself), then any of the documented columns; an empty cell leaves
    a value as it is, - clears it. Re-importing a file changes nothing more.
    """
    from store import importing

    fmt = file_format or importing.format_of(file)
    if fmt is None:
        raise click.UsageError(
            "cannot tell the format from the file name: give --format csv or --format jsonl"
        )
    data = _read(ctx, file, importing.read_limited)
    report = importing.import_data(
        app.sessions(),
        data,
        fmt,
        default_timezone=app.config.timezone,
        dry_run=dry_run,
        partial=partial,
    )
    if app.json:
        click.echo(
            json.dumps(
                _report_data(file, fmt, dry_run, partial, report), ensure_ascii=False, indent=2
            )
        )
    else:
        for problem in report.problems:
            click.echo(f"error: {_where(problem.line, problem.field)}{problem.message}", err=True)
        if report.more_problems:
            click.echo(f"error: {report.more_problems} more problems not shown", err=True)
    failed = bool(report.refused_rows or report.aborted or report.problems)
    if not app.json:
        click.echo(_summary(dry_run, partial, report), err=failed)
    if failed:
        ctx.exit(1)


def _read(ctx: click.Context, file: str, read: Callable[[IO[bytes]], bytes]) -> bytes:
    """The file (or stdin), read no further than the import's limit."""
    try:
        if file == "-":
            return read(sys.stdin.buffer)
        with open(file, "rb") as opened:
            return read(opened)
    except OSError as exc:
        fail(ctx, "import_file", f"cannot read {file}: {exc.strerror or exc}")


def _where(line: int, field: str | None) -> str:
    if line == 0:
        return ""  # the message names the file
    return f"line {line}, {field}: " if field else f"line {line}: "


def _summary(dry_run: bool, partial: bool, report: ImportReport) -> str:
    done = (
        f"{report.lines_added} line(s) added, {report.numbers_added} other number(s) added, "
        f"{report.numbers_updated} number(s) updated"
    )
    refused = report.refused_rows
    if report.aborted:
        return (
            f"error: the import stopped at a database error; nothing written ({report.rows} rows)"
        )
    if report.rows == 0:
        return "error: no row imported; nothing written"
    if dry_run:
        verdict = "no row refused" if not refused else f"{refused} of {report.rows} row(s) refused"
        return f"dry run: {report.rows} row(s) checked, {verdict}; would be {done}; nothing written"
    if not refused:
        return f"imported {report.rows} row(s): {done}"
    if partial:
        stored = report.rows - refused
        return (
            f"error: {refused} of {report.rows} row(s) refused; the other {stored} stored: " + done
        )
    return f"error: {refused} of {report.rows} row(s) refused; nothing written (all or nothing)"


def _report_data(
    file: str, fmt: str, dry_run: bool, partial: bool, report: ImportReport
) -> dict[str, Any]:
    return {
        "file": file,
        "format": fmt,
        "dry_run": dry_run,
        "partial": partial,
        "rows": report.rows,
        "refused_rows": report.refused_rows,
        "written": report.written,
        "aborted": report.aborted,
        "lines_added": report.lines_added,
        "numbers_added": report.numbers_added,
        "numbers_updated": report.numbers_updated,
        "problems": [p.as_dict() for p in report.problems],
        "more_problems": report.more_problems,
    }
