"""Issue 14, the operator's path: what the help, the unit and the guides say about the node.

The settings site runs in ``chakushin serve`` (OPS-1): the help and the
systemd unit say so, and the README no longer promises it for later. The
operator guide has the end-to-end checklist and the troubleshooting table
an operator reaches for on the first day, says what an AMI outage loses,
and where Asterisk comes from on Debian 12.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from chakushin.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def read(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text of the first ``## `` section whose heading contains ``heading``.

    Numbers are left out of the tests' headings: the guide may be renumbered.
    """
    start = _heading_start(text, heading)
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _heading_start(text: str, heading: str) -> int:
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.startswith("## ") and heading in line:
            return offset
        offset += len(line)
    raise AssertionError(f"no section {heading!r}")


def test_issue14_OPS_1_serve_help_names_the_settings_site() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "settings site" in result.stdout and "site.port" in result.stdout


def test_issue14_OPS_1_the_systemd_unit_names_the_settings_site() -> None:
    unit = read("deploy/chakushin.service")
    description = next(line for line in unit.splitlines() if line.startswith("Description="))
    assert "settings site" in description
    assert "settings site" in unit.split("[Unit]")[0]  # the header comment


def test_issue14_OPS_1_readme_does_not_promise_the_site_for_later() -> None:
    readme = read("README.md")
    assert "will join them" not in readme
    running = section(readme, "Running a node")
    assert "`site` (the settings site" in running


def test_issue14_guide_has_an_end_to_end_checklist() -> None:
    checklist = section(read("docs/operator-guide.md"), "End-to-end check")
    for words in (
        "chakushin config check",
        "chakushin status",
        "chakushin mail test",
        "asterisk -rx",
        "journalctl -u chakushin",
        "call_decided",
        "mail_sent",
        "/login",
    ):
        assert words in checklist, words


def test_issue14_guide_has_a_troubleshooting_table() -> None:
    table = section(read("docs/operator-guide.md"), "Troubleshooting")
    for symptom in (
        "No notification mail",
        "spam",
        "受信指定ドメイン",
        "AMI login",
        "AGI",
        "site",
        "database is locked",
    ):
        assert symptom in table, symptom


def test_issue14_guide_says_what_an_ami_outage_loses() -> None:
    guide = read("docs/operator-guide.md")
    outage = section(guide, "Health and metrics")
    assert "ami.reconnect_max_seconds" in outage
    assert "not seen" in outage and "chakushin_ami_connected" in outage


def test_issue14_guide_says_where_asterisk_comes_from_on_debian_12() -> None:
    install = section(read("docs/operator-guide.md"), "Install next to Asterisk")
    assert "not packaged in Debian 12" in install
    assert "downloads.asterisk.org" in install
