"""``chakushin-agi SCRIPT``: the same flows as a classic AGI script over stdin/stdout.

For Asterisk set-ups that cannot reach the FastAGI server: the dialplan
runs ``AGI(chakushin-agi,temp-password)`` and Asterisk starts one process
per call. Logs go to stderr (Asterisk shows them on its console). An entry
point, so it lives here and not in ``agi/`` (issue 13): the routes, the
engine and the sessions come from the composition root, ``chakushin.bootstrap``.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click
import structlog
from asterisk.agi import AGIError  # type: ignore[import-untyped]

from agi.transport import AGIChannel, SafeAGI
from chakushin import bootstrap, logs
from chakushin import config as config_mod
from chakushin.config import ConfigError
from chakushin.options import config_path_option
from store.errors import StoreUnavailable


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@config_path_option
@click.argument("script")
def main(config_path: str | None, script: str) -> None:
    """Run one AGI session of SCRIPT (e.g. temp-password) on stdin/stdout."""
    try:
        config = config_mod.load(config_path)
    except ConfigError as exc:
        click.echo(f"chakushin-agi: error: {exc}", err=True)
        sys.exit(1)
    logs.configure(
        config.log.level, "json" if config.log.format == "auto" else config.log.format, sys.stderr
    )
    log = structlog.get_logger("chakushin.classic_agi").bind(script=script)
    try:
        agi = SafeAGI(sys.stdin, sys.stdout)
    except (AGIError, OSError) as exc:
        log.info("agi_session_aborted", reason=str(exc))
        sys.exit(1)

    # Classic AGI learns of a hang-up by SIGHUP; pyst2 checks this flag before
    # every command (SafeAGI leaves installing the handler to the main thread).
    def on_sighup(_signum: int, _frame: FrameType | None) -> None:
        agi._got_sighup = True

    signal.signal(signal.SIGHUP, on_sighup)
    engine = None
    try:
        engine = bootstrap.make_engine(config)
        route = bootstrap.agi_routes(config, bootstrap.open_sessions(engine)).get(script)
        if route is None:
            log.error("agi_unknown_script")
            sys.exit(1)
        outcome = route(AGIChannel(agi, config.ivr.sounds_dir))
    except StoreUnavailable as exc:
        # The database cannot be opened: the dialplan's fail path plays the
        # guidance when AGISTATUS is FAILURE.
        log.error("agi_store_unavailable", error=exc.message)
        sys.exit(1)
    finally:
        if engine is not None:
            engine.dispose()
    log.info("agi_session_done", outcome=outcome)
