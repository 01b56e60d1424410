"""The shipped PJSIP sample defines what the default dial strings dial (CALL-1, CALL-4; issue 14).

``call.forward_dial`` dials ``PJSIP/{number}@pstn``: the sample must define
an endpoint ``pstn`` with its aor and identify, and trust the carrier's
identity headers so that a withheld caller arrives withheld (CALL-3).
"""

from __future__ import annotations

from pathlib import Path

from dialplan.config import CallConfig

SAMPLE = Path(__file__).parents[2] / "asterisk-conf" / "pjsip_chakushin_sample.conf"


def sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """pjsip.conf's sections in order, ``;`` comments dropped (names may repeat, one per type)."""
    found: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            found.append((line[1:-1], {}))
        elif "=" in line and found:
            key, _, value = line.partition("=")
            found[-1][1][key.strip()] = value.strip()
    return found


def of_type(kind: str, name: str) -> dict[str, str]:
    matches = [
        options
        for section, options in sections(SAMPLE.read_text(encoding="utf-8"))
        if section == name and options.get("type") == kind
    ]
    assert len(matches) == 1, f"[{name}] type = {kind}: {len(matches)} in the sample"
    return matches[0]


def test_CALL_4_the_sample_defines_the_trunk_the_default_forward_dial_dials() -> None:
    trunk = CallConfig().forward_dial.rpartition("@")[2]
    assert trunk == "pstn"
    endpoint = of_type("endpoint", trunk)
    assert trunk in endpoint["aors"].split(",")
    assert of_type("aor", trunk)["contact"].startswith("sip:")
    assert of_type("identify", trunk)["endpoint"] == trunk
    # CALL-3: the carrier's P-Asserted-Identity and Privacy are believed, so a
    # withheld caller is withheld with its number, not "anonymous".
    assert endpoint["trust_id_inbound"] == "yes"
    assert endpoint["language"] == "ja"  # refusal guidance is Japanese


def test_CALL_1_the_sample_phone_is_what_the_fallback_endpoint_dials() -> None:
    phone = CallConfig().fallback_endpoint.format(number="0312345678").partition("/")[2]
    assert phone in of_type("endpoint", phone)["aors"].split(",")
    assert of_type("aor", phone)["max_contacts"] == "1"


def test_CALL_2_the_guide_documents_caller_id_forms_and_the_trunk() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    section = guide.partition("### Caller IDs from a carrier trunk")[2].partition("\n## ")[0]
    for needed in (
        "+81311110000",
        "0081311110000",
        "call.e164_without_plus",
        "anonymous",
        "trust_id_inbound = yes",
        "send_pai",
        "trust_connected_line",
        "PJSIP/{number}@pstn",
    ):
        assert needed in section, needed
