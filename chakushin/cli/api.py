"""``chakushin api``: the provisioning API's bearer tokens and its OpenAPI document (issue 18)."""

from __future__ import annotations

import click

from chakushin.cli.app import Group


@click.group(cls=Group)
def api() -> None:
    """The provisioning API (/api/v1): its tokens and its OpenAPI document."""
