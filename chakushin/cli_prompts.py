"""``chakushin prompts``: the IVR prompt catalogue (IVR-11).

``synth`` renders every prompt to the 8 kHz WAV files Asterisk plays; the
operator points it at ``<Asterisk sounds dir>/<ivr.sounds_dir>``. The
synthesizer is the optional ``[tts]`` extra, imported only by ``synth``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from agi import tts
from agi.prompts import TEXTS


@click.group()
def prompts() -> None:
    """IVR prompt catalogue (IVR-11)."""


@prompts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of text.")
@click.pass_context
def list_prompts(ctx: click.Context, as_json: bool) -> None:
    """Print every prompt id with its Japanese text."""
    # `chakushin --json prompts list` sets .json on the root's context object.
    if as_json or getattr(ctx.obj, "json", False):
        catalogue = {prompt.value: text for prompt, text in TEXTS.items()}
        click.echo(json.dumps(catalogue, ensure_ascii=False, indent=2))
    else:
        for prompt, text in TEXTS.items():
            click.echo(f"{prompt.value}\t{text}")


@prompts.command("synth")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the <prompt id>.wav files (created if missing).",
)
@click.pass_context
def synth(ctx: click.Context, out_dir: Path) -> None:
    """Render every prompt to an 8 kHz 16-bit mono WAV file (Asterisk's wav format)."""
    try:
        written = tts.synthesize_all(out_dir)
    except tts.TTSUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)
    except OSError as exc:
        click.echo(f"error: cannot write the prompts to {out_dir}: {exc}", err=True)
        ctx.exit(1)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"{len(written)} prompts written to {out_dir} (8 kHz 16-bit mono WAV)")
