"""The recorded AMI streams ship with the package, unchanged, for ``chakushin demo``.

chakushin/demo/traces/ holds copies of the recordings in
../shared/ami-traces/ (beside the repository checkout), so that the demo
and the tests replay them on a machine without that directory. The copies
must stay byte for byte what Asterisk sent: every recorded stream is
packaged and equal, and nothing else is packaged as a recording.

What Asterisk sent is pinned in the repository itself: recordings.sha256
beside this file holds the SHA-256 of every recording and of their README
(``sha256sum -c`` reads it in either directory), so the check runs in any
clone. Where ../shared/ami-traces is there too, the packaged copies and the
sums are also compared with it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chakushin.demo import amiserver, recordings
from notifier import ami
from notifier.model import OutcomeReported
from store.models import Presentation

SHARED = Path(__file__).resolve().parents[3] / "shared" / "ami-traces"
SUMS = Path(__file__).with_name("recordings.sha256")


def pinned_sums() -> dict[str, str]:
    """File name -> SHA-256 of what Asterisk sent, as committed (``sha256sum`` lines)."""
    sums = {}
    for entry in SUMS.read_text().splitlines():
        digest, name = entry.split("  ", 1)
        sums[name] = digest
    return sums


def sums_of(directory: Path) -> dict[str, str]:
    """File name -> SHA-256 of every recording in ``directory`` and of its README."""
    files = [*sorted(directory.glob("*.ami")), directory / "README.md"]
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def test_every_recording_is_packaged_byte_for_byte() -> None:
    """Against the committed sums always; against ../shared/ami-traces too where it is there."""
    pinned = pinned_sums()
    assert sorted(name for name in pinned if name.endswith(".ami")), f"no recording in {SUMS}"
    assert sums_of(recordings.TRACES) == pinned
    if SHARED.is_dir():
        shared = sorted(p.name for p in SHARED.glob("*.ami"))
        packaged = sorted(p.name for p in recordings.TRACES.glob("*.ami"))
        assert shared, f"no *.ami in {SHARED}"
        assert packaged == shared
        for name in [*shared, "README.md"]:
            assert (recordings.TRACES / name).read_bytes() == (SHARED / name).read_bytes(), name
        assert sums_of(SHARED) == pinned, f"{SUMS} is not what {SHARED} holds"


def test_the_packaged_recordings_are_the_scenarios() -> None:
    """Issue 17: the office recordings (ring groups, queues) are scenarios too."""
    assert recordings.TRACES.is_dir()
    assert amiserver.trace_names() == sorted(recordings.SCENARIOS)
    assert (recordings.TRACES / "README.md").is_file()


def _outcome(frames: list[bytes]) -> OutcomeReported:
    events = [ami.read_event(f) for f in ami.iter_frames(b"".join(frames))]
    (outcome,) = [e for e in events if isinstance(e, OutcomeReported)]
    return outcome


@pytest.mark.parametrize("name", ["answered", "anonymous_answered"])
def test_renumbered_calls_carry_the_chosen_subscriber_and_caller(name: str) -> None:
    linkedid, frames = recordings.renumbered(name, 7, subscriber="0311112222", caller="0455556666")
    outcome = _outcome(frames)
    assert outcome.linkedid == linkedid
    assert outcome.subscriber_number == "0311112222"
    withheld = recordings.SCENARIOS[name].presentation != "allowed"
    assert outcome.caller_number == ("" if withheld else "0455556666")
    assert outcome.presentation is (Presentation.WITHHELD if withheld else Presentation.ALLOWED)


def test_by_default_the_outcome_event_has_the_recorded_numbers() -> None:
    _, frames = recordings.renumbered("answered", 7)
    outcome = _outcome(frames)
    assert outcome.subscriber_number == recordings.SUBSCRIBER
    assert outcome.caller_number == recordings.CALLER
