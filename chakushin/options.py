"""Command-line options shared by the ``chakushin`` and ``chakushin-agi`` commands."""

from __future__ import annotations

import click

from chakushin.config import CONFIG_ENV

config_path_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    help="TOML config file (default: $CHAKUSHIN_CONFIG, else ./chakushin.toml if present).",
)
