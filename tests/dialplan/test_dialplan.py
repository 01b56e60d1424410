"""The shipped Asterisk config: rendered from the config, linted, names defined once (OPS-3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import sessionmaker

from agi import wiring
from chakushin import bootstrap
from chakushin import config as config_mod
from chakushin.cli import cli
from dialplan import render, variables
from tests.dialplan.lint_helpers import lint

CONF_DIR = Path(__file__).resolve().parents[2] / "asterisk-conf"


def default_config() -> config_mod.Config:
    return config_mod.load(env={})


def rendered(config: config_mod.Config) -> str:
    """The dialplan of ``config``, through the composition root as ``chakushin dialplan render``."""
    return render.render(bootstrap.dialplan_settings(config))


def shipped_dialplans() -> list[Path]:
    found = sorted(CONF_DIR.glob("extensions_*.conf"))
    assert found, "no dialplan shipped in asterisk-conf/"
    return found


def test_OPS_3_shipped_dialplan_is_the_rendering_of_the_default_config() -> None:
    shipped = (CONF_DIR / render.SHIPPED_FILE).read_text(encoding="utf-8")
    assert shipped == rendered(default_config()), (
        "asterisk-conf/ is stale: run `chakushin dialplan render --out "
        "asterisk-conf/extensions_chakushin.conf` with the default config"
    )


def test_OPS_3_asterisklint_passes_on_asterisk_conf(tmp_path: Path) -> None:
    result = lint(tmp_path, shipped_dialplans())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_asterisklint_would_catch_a_broken_dialplan(tmp_path: Path) -> None:
    broken = tmp_path / "src"
    broken.mkdir()
    text = rendered(default_config()).replace("Hangup(88)", "Hangupp(88)")
    (broken / "extensions_broken.conf").write_text(text, encoding="utf-8")
    result = lint(tmp_path, [broken / "extensions_broken.conf"])
    assert result.returncode == 1
    assert "E_APP_MISSING" in result.stdout + result.stderr


def test_OPS_3_every_shared_name_in_the_dialplan_is_defined_once() -> None:
    defined = {
        value
        for name, value in vars(variables).items()
        if name.isupper() and isinstance(value, str)
    }
    for path in shipped_dialplans():
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"\bCHAKUSHIN_\w+", text):
            assert name in defined, f"{path.name} uses {name}, not in dialplan.variables"
        for context in re.findall(r"^\[([^\]]+)\]", text, re.M):
            assert context in defined, f"{path.name} defines context {context!r} not in variables"
        for target in re.findall(r"Goto\(([\w-]+),", text):
            assert target in defined
        for script in re.findall(r"AGI\(agi://[^/]+/([\w-]+)\)", text):
            assert script in defined
            assert script in wiring.routes(
                sessionmaker(), ivr=default_config().ivr, call=default_config().call
            ), script  # the route table is keyed by name; no session is opened


def test_IVR_1_access_numbers_and_agi_address_come_from_the_config() -> None:
    config = config_mod.load(
        env={
            "CHAKUSHIN_IVR_ACCESS_NUMBERS": "0120000111",
            "CHAKUSHIN_AGI_HOST": "0.0.0.0",
            "CHAKUSHIN_AGI_ALLOWED_PEERS": "192.0.2.10",
            "CHAKUSHIN_AGI_PORT": "14573",
            "CHAKUSHIN_IVR_SOUNDS_DIR": "ja/chakushin",
        }
    )
    text = rendered(config)
    assert "exten => 0120000111,1,Goto(chakushin-temp-password,s,1)" in text
    assert "0363044747" not in text
    assert "AGI(agi://127.0.0.1:14573/temp-password)" in text
    assert "Playback(ja/chakushin/tp-system-error)" in text
    ipv6 = config_mod.load(env={"CHAKUSHIN_AGI_HOST": "::1"})
    assert "AGI(agi://[::1]:4573/temp-password)" in rendered(ipv6)


def test_IVR_2_data_calls_are_refused_before_the_agi() -> None:
    lines = rendered(default_config()).splitlines()
    check = next(i for i, line in enumerate(lines) if "transfercapability" in line)
    agi = next(i for i, line in enumerate(lines) if "AGI(agi://" in line)
    assert check < agi
    assert '"SPEECH"' in lines[check] and '"3K1AUDIO"' in lines[check]
    assert lines[check + 1].strip() == "same => n,Hangup(88)"


def test_dialplan_render_command(tmp_path: Path, tmp_config: Path) -> None:
    out = tmp_path / "x.conf"
    result = CliRunner().invoke(cli, ["dialplan", "render", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8") == rendered(default_config())
    shown = CliRunner().invoke(cli, ["dialplan", "render"])
    assert shown.stdout == rendered(default_config())


@pytest.mark.parametrize("value", ["../x", "a b", "/abs"])
def test_sounds_dir_must_be_a_plain_relative_path(value: str) -> None:
    with pytest.raises(config_mod.ConfigError, match=r"ivr\.sounds_dir"):
        config_mod.load(env={"CHAKUSHIN_IVR_SOUNDS_DIR": value})


def test_CALL_5_the_user_event_carries_exactly_the_documented_fields() -> None:
    text = rendered(default_config())
    events = re.findall(r"UserEvent\((\w+),(.*)\)$", text, re.M)
    assert len(events) == 1
    name, body = events[0]
    assert name == variables.EVENT_CALL
    fields = dict(part.split(": ", 1) for part in body.split(","))
    assert fields == {field: f"${{{var}}}" for field, var in variables.EVENT_FIELDS.items()}


def test_CALL_5_every_outcome_the_dialplan_sets_is_a_documented_one() -> None:
    text = rendered(default_config())
    setting = [line for line in text.splitlines() if "Set(CHAKUSHIN_OUTCOME=" in line]
    values: set[str] = set()
    for line in setting:
        value = line.split("Set(CHAKUSHIN_OUTCOME=", 1)[1]
        # plain values, and the branches of ${IF(...?a:b)}
        values |= set(re.findall(r"(?:^|[?:])([a-z_]+)(?=[:)])", value))
    assert values == set(variables.OUTCOMES)


def test_CALL_5_hangup_handler_is_pushed_before_the_routing_agi() -> None:
    lines = rendered(default_config()).splitlines()
    push = next(i for i, line in enumerate(lines) if "hangup_handler_push" in line)
    agi = next(i for i, line in enumerate(lines) if "/route-call," in line)
    assert push < agi


def test_refusal_guidance_is_early_media_not_an_answered_call() -> None:
    text = rendered(default_config())
    assert text.count(",noanswer)") == 2
    refusals = text.split("n(reject_nuisance)")[1].split("n(ring)")[0]
    assert "Answer()" not in refusals


def test_OPS_3_manager_user_reads_only_what_the_notifier_needs() -> None:
    text = (CONF_DIR / "manager_chakushin.conf").read_text(encoding="utf-8")
    settings = [
        tuple(part.strip() for part in line.split("=", 1))
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith(";")
    ]
    # Issue 17: app_queue's AgentConnect (who answered a queue call) is of class agent.
    assert ("read", "call,user,agent") in settings
    assert ("write", "") in settings
    filters = [value for key, value in settings if key == "eventfilter"]
    assert f"UserEvent: {variables.EVENT_CALL}" in filters
    assert "Event: AgentConnect" in filters
    assert all(not f.startswith("!") for f in filters)  # a whitelist: everything else dropped
    assert ("permit", "127.0.0.1/255.255.255.255") in settings
