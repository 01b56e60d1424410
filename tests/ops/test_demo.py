"""``chakushin demo``: runs on a fresh install, non-interactively, and shows the real path.

It is run as the operator would run it (a subprocess, no terminal), in an
environment whose data directory must stay untouched: the demo works in a
throw-away directory of its own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.ops.serve_process import chakushin_command, clean_env

WITHHELD_RECORDED = "0398765432"  # what the anonymous recordings still carry in CallerIDNum


def run_demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "operator-data"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [chakushin_command(), *args],
        env=clean_env(CHAKUSHIN_DATA_DIR=str(home)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_OPS_1_demo_shows_the_ivr_call_every_decision_and_the_mails(tmp_path: Path) -> None:
    result = run_demo(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # IVR-3..7: the temporary-password call, as the caller hears it.
    assert "仮パスワードの設定を行います。" in out
    assert "caller presses 0312345679#" in out
    assert "   → completed" in out
    # One decision per recorded call, each with the rule that decided it.
    table = out[out.index("called      caller") :].split("\n\n")[0].splitlines()[1:]
    assert len(table) == 13
    expected = [
        ("0312345678", "answered", "mailed to taro@example.jp, hanako@example.jp"),
        ("0312345678", "rejected_anonymous", "not mailed: number_request (MAIL-6)"),
        ("0312345678", "rejected_nuisance", "not mailed: nuisance_list (MAIL-7)"),
        ("0312345679", "answered", "not mailed: answered (MAIL-4)"),
        ("0312345679", "forwarded", "mailed to branch@example.jp"),
        ("0312345679", "forward_failed", "not mailed: forward_failed (MAIL-8)"),
    ]
    for number, outcome, decision in expected:
        assert any(
            line.split()[0] == number and f" {outcome} " in line and line.endswith(decision)
            for line in table
        ), (number, outcome, decision, table)
    # MAIL-9: the mails as the subscriber reads them; a withheld caller stays withheld.
    assert "3. 15 mails in the local mail sink" in out
    assert "【着信お知らせメール】非通知 からの着信" in out
    assert "着信結果：" in out
    withheld = [line for line in table if "(withheld)" in line]
    assert len(withheld) == 2 and all(WITHHELD_RECORDED not in line for line in withheld)
    assert "metrics: 13 calls seen, 15 mails queued, 15 sent" in out
    # The operator's own data directory is not touched.
    assert list((tmp_path / "operator-data").iterdir()) == []


def test_OPS_1_demo_json_summary_and_kept_directory(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    result = run_demo(tmp_path, "--json", "demo", "--keep", str(kept))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["temp_password_outcome"] == "completed"
    assert len(summary["decisions"]) == 13
    assert sum(d["mailed"] for d in summary["decisions"]) == 9
    assert len(summary["mails"]) == 15
    assert all(
        WITHHELD_RECORDED not in m["body"] for m in summary["mails"] if "非通知" in m["subject"]
    )
    assert summary["metrics"]["chakushin_mail_deliveries_total{result=sent}"] == 15
    assert {p.name for p in kept.iterdir()} >= {"chakushin.db", "maildir", "chakushin.log"}
    assert len(list((kept / "maildir" / "new").iterdir())) == 15

    # A second run into the same directory is refused and changes nothing there.
    before = sorted(str(p) for p in kept.rglob("*"))
    again = run_demo(tmp_path, "demo", "--keep", str(kept))
    assert again.returncode == 1
    assert again.stderr == f"error: {kept} is not empty; --keep needs a new or empty directory\n"
    assert sorted(str(p) for p in kept.rglob("*")) == before
