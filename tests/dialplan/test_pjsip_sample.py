"""The shipped PJSIP files: what the default dial strings dial, and what Asterisk 22 reads.

``call.forward_dial`` dials ``PJSIP/{number}@pstn``: the sample must define
an endpoint ``pstn`` with its aor and identify, and trust the carrier's
identity headers so that a withheld caller arrives withheld (CALL-3).

Issue 15: every shipped ``asterisk-conf/pjsip*.conf`` is read in Asterisk's
config syntax (``tests/dialplan/asterisk_config.py``), its commented-out
options too, and every section must have a pjsip type and only the option
names Asterisk 22 documents for that type (``tests/dialplan/pjsip_options.py``);
every name one object gives another (aors, auth, transport, identify's
endpoint) must exist with the right type. No Asterisk runs here: this is as
far as "loads without errors" can be checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dialplan.config import CallConfig
from tests.dialplan import pjsip_options
from tests.dialplan.asterisk_config import (
    ConfigSyntaxError,
    Section,
    parse,
    parse_file,
    uncommented,
)

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "asterisk-conf" / "pjsip_chakushin_sample.conf"
SHIPPED = sorted((ROOT / "asterisk-conf").glob("pjsip*.conf"))
# Options whose value names another object, and that object's type.
REFERENCES = {
    ("endpoint", "aors"): "aor",
    ("endpoint", "auth"): "auth",
    ("endpoint", "outbound_auth"): "auth",
    ("endpoint", "transport"): "transport",
    ("identify", "endpoint"): "endpoint",
    ("registration", "outbound_auth"): "auth",
    ("registration", "transport"): "transport",
    ("registration", "endpoint"): "endpoint",
}


def sections(path: Path = SAMPLE, *, live_comments: bool = False) -> list[Section]:
    return parse_file(path, live_comments=live_comments)


def problems(found: list[Section]) -> list[str]:
    """One line per thing Asterisk 22 would refuse or warn about (empty: none)."""
    out: list[str] = []
    objects = [s for s in found if not s.template]
    defined = {(s.type, s.name) for s in objects}
    for section in found:
        kind = section.type
        where = f"{section.file}:{section.line} [{section.name}]"
        if kind is None:
            if not section.template:
                out.append(f"{where}: no type")
            continue  # a template without a type is checked through its users
        known = pjsip_options.BY_TYPE.get(kind)
        if known is None:
            out.append(f"{where}: unknown type {kind!r}")
            continue
        unknown = [key for key, _ in section.options if key not in known]
        out.extend(f"{where}: {kind} has no option {key!r}" for key in unknown)
        auth_type = section.get("auth_type") if kind == "auth" else None
        if auth_type is not None and auth_type not in pjsip_options.AUTH_TYPES:
            out.append(f"{where}: auth_type {auth_type!r} (deprecated or unknown; use digest)")
        protocol = section.get("protocol") if kind == "transport" else None
        if protocol is not None and protocol not in pjsip_options.TRANSPORT_PROTOCOLS:
            out.append(f"{where}: unknown transport protocol {protocol!r}")
        dtmf = section.get("dtmf_mode") if kind == "endpoint" else None
        if dtmf is not None and dtmf not in pjsip_options.DTMF_MODES:
            out.append(f"{where}: unknown dtmf_mode {dtmf!r}")
        if section.template:
            continue
        for (owner, key), target in REFERENCES.items():
            if kind != owner:
                continue
            for value in section.values(key):
                for name in filter(None, (v.strip() for v in value.split(","))):
                    if (target, name) not in defined:
                        out.append(f"{where}: {key} = {name}: no {target} [{name}]")
    return out


def of_type(kind: str, name: str, *, live_comments: bool = False) -> Section:
    matches = [
        section
        for section in sections(live_comments=live_comments)
        if section.name == name and section.type == kind and not section.template
    ]
    assert len(matches) == 1, f"[{name}] type = {kind}: {len(matches)} in the sample"
    return matches[0]


def test_CALL_4_the_sample_defines_the_trunk_the_default_forward_dial_dials() -> None:
    trunk = CallConfig().forward_dial.rpartition("@")[2]
    assert trunk == "pstn"
    endpoint = of_type("endpoint", trunk)
    assert trunk in (endpoint.get("aors") or "").split(",")
    assert (of_type("aor", trunk).get("contact") or "").startswith("sip:")
    assert of_type("identify", trunk).get("endpoint") == trunk
    # CALL-3: the carrier's P-Asserted-Identity and Privacy are believed, so a
    # withheld caller is withheld with its number, not "anonymous".
    assert endpoint.get("trust_id_inbound") == "yes"
    assert endpoint.get("language") == "ja"  # refusal guidance is Japanese


def test_CALL_1_the_sample_phone_is_what_the_fallback_endpoint_dials() -> None:
    phone = CallConfig().fallback_endpoint.format(number="0312345678").partition("/")[2]
    assert phone in (of_type("endpoint", phone).get("aors") or "").split(",")
    assert of_type("aor", phone).get("max_contacts") == "1"


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


# --- issue 15: what Asterisk 22 reads ---------------------------------------------------------


def test_shipped_pjsip_files_exist() -> None:
    assert SAMPLE in SHIPPED


@pytest.mark.parametrize("live_comments", [False, True], ids=["as shipped", "uncommented"])
@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_issue15_every_section_has_a_pjsip_type_and_only_documented_options(
    path: Path, live_comments: bool
) -> None:
    found = sections(path, live_comments=live_comments)
    assert found
    assert problems(found) == []


def test_issue15_a_misspelt_option_an_unknown_type_and_a_dangling_name_are_found() -> None:
    found = parse(
        "[pstn]\n"
        "type = endpoint\n"
        "trust_id_inbund = yes   ; misspelt\n"
        "aors = pstn\n"
        "transport = transport-udp\n"
        "[pstn]\n"
        "type = aor\n"
        "max_contact = 1\n"
        "[pstn]\n"
        "type = identfy\n"
        "[phone-auth]\n"
        "type = auth\n"
        "auth_type = userpass\n",
        file="bad.conf",
    )
    assert problems(found) == [
        "bad.conf:1 [pstn]: endpoint has no option 'trust_id_inbund'",
        "bad.conf:1 [pstn]: transport = transport-udp: no transport [transport-udp]",
        "bad.conf:6 [pstn]: aor has no option 'max_contact'",
        "bad.conf:9 [pstn]: unknown type 'identfy'",
        "bad.conf:11 [phone-auth]: auth_type 'userpass' (deprecated or unknown; use digest)",
    ]


def test_issue15_a_misspelling_in_the_shipped_sample_or_its_commented_lines_is_found() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    live = text.replace("trust_id_inbound = yes", "trust_id_inbund = yes")
    assert any("'trust_id_inbund'" in p for p in problems(parse(live)))
    commented = text.replace(";retry_interval = 60", ";retry_intervall = 60")
    assert problems(parse(commented)) == []  # a comment, as shipped
    assert any("'retry_intervall'" in p for p in problems(parse(uncommented(commented))))


def test_issue15_templates_pass_their_options_and_type_on() -> None:
    found = parse(
        "[phone](!)\ntype = endpoint\ndirect_media = no\n"
        "[nat](!,phone)\nrewrite_contact = yes\n"
        "[0312345678](nat)\ncontext = subscriber-phones\n"
    )
    phone = found[-1]
    assert (phone.type, phone.template) == ("endpoint", False)
    assert phone.options == [
        ("type", "endpoint"),
        ("direct_media", "no"),
        ("rewrite_contact", "yes"),
        ("context", "subscriber-phones"),
    ]
    assert problems(found) == []
    with pytest.raises(ConfigSyntaxError, match="no earlier section"):
        parse("[x](nat)\ntype = endpoint\n")


@pytest.mark.parametrize(
    "text",
    ["[pstn\ntype = endpoint\n", "type = endpoint\n", "[a]\njust words\n", "[a]\n#exec ls\n"],
)
def test_issue15_lines_asterisk_would_not_read_are_errors(text: str) -> None:
    with pytest.raises(ConfigSyntaxError):
        parse(text)


def test_issue15_comments_escapes_block_comments_and_commented_out_config() -> None:
    text = (
        "[a] ; the section\n"
        "type = endpoint\n"
        "set_var = X=a\\;b\n"
        ";-- a block\n"
        "type = nonsense\n"
        "--;\n"
        "; a prose comment = not config\n"
        ";language = ja\n"
    )
    [a] = parse(text)
    assert a.options == [("type", "endpoint"), ("set_var", "X=a;b")]
    [a] = parse(uncommented(text))
    assert a.get("language") == "ja"


# --- issue 15: the carrier trunk and the phones --------------------------------------------------


def test_CALL_3_issue15_the_trunk_trusts_the_carriers_identity_and_keeps_media() -> None:
    trunk = of_type("endpoint", "pstn")
    # Without trust_id_inbound Asterisk ignores Privacy: id and P-Asserted-Identity:
    # a withheld caller's number from From reaches the mail and the logs.
    assert trunk.get("trust_id_inbound") == "yes"
    assert trunk.get("trust_id_outbound") in (None, "no")  # never send a withheld number on
    assert trunk.get("send_pai") == "yes"
    assert trunk.get("send_rpid") in ("yes", "no")  # said explicitly, with the reason
    assert trunk.get("direct_media") == "no"
    assert trunk.get("dtmf_mode") == "rfc4733"
    assert trunk.get("callerid") is None  # it would replace every caller's number
    transport = of_type("transport", trunk.get("transport") or "")
    assert transport.get("protocol") == "udp"
    identify = of_type("identify", "pstn")
    assert identify.get("match")
    # The commented TLS transport is a complete one once uncommented.
    tls = [
        s
        for s in sections(live_comments=True)
        if s.type == "transport" and s.get("protocol") == "tls"
    ]
    assert len(tls) == 1
    assert {"bind", "cert_file", "priv_key_file"} <= {k for k, _ in tls[0].options}


def test_CALL_1_issue15_a_phone_registering_from_a_new_address_replaces_its_contact() -> None:
    phone = CallConfig().fallback_endpoint.format(number="0312345678").partition("/")[2]
    aor = of_type("aor", phone)
    # max_contacts = 1 alone refuses the new registration (403) until the old one expires.
    assert (aor.get("max_contacts"), aor.get("remove_existing")) == ("1", "yes")
    endpoint = of_type("endpoint", phone)
    [auth_name] = (endpoint.get("auth") or "").split(",")
    assert of_type("auth", auth_name).get("auth_type") == "digest"
    assert of_type("transport", endpoint.get("transport") or "").type == "transport"
    assert endpoint.get("direct_media") == "no"


def test_CALL_1_issue15_the_sample_says_how_a_phone_behind_a_router_is_configured() -> None:
    nat = [s for s in sections() if s.template and s.get("rewrite_contact") == "yes"]
    assert len(nat) == 1, "one phone template for phones behind NAT"
    assert (nat[0].type, nat[0].get("rtp_symmetric"), nat[0].get("force_rport")) == (
        "endpoint",
        "yes",
        "yes",
    )


def test_issue15_include_reads_the_other_file_in_place(tmp_path: Path) -> None:
    (tmp_path / "trunk.conf").write_text("[pstn]\ntype = aor\ncontact = sip:203.0.113.10\n")
    main = tmp_path / "pjsip.conf"
    main.write_text("[t]\ntype = transport\n#include trunk.conf\n#tryinclude absent.conf\n")
    assert [(s.name, s.type) for s in parse_file(main)] == [("t", "transport"), ("pstn", "aor")]
    main.write_text("#include absent.conf\n")
    with pytest.raises(ConfigSyntaxError, match="no such file"):
        parse_file(main)


def test_issue15_the_guide_has_a_carrier_trunk_section_and_a_sip_checklist() -> None:
    guide = (ROOT / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    trunk = guide.partition("### The carrier trunk\n")[2].partition("\n## ")[0]
    trunk, _, checklist = trunk.partition("### SIP checklist\n")
    for needed in (
        "trust_id_inbound = yes",
        "Privacy: id",
        "P-Asserted-Identity",
        "direct_media = no",
        "send_pai = yes",
        "dtmf_mode = rfc4733",
        "chakushin asterisk check",
        "write = system",
        "chakushin-check",
        "remove_existing = yes",
        "auth_type = digest",
        "rewrite_contact = yes",
        "rtp_symmetric = yes",
        "force_rport = yes",
    ):
        assert needed in trunk, needed
    items = [line for line in checklist.splitlines() if line.startswith("- [ ]")]
    for needed in ("register", "digest", "Identify", "asterisk check", "rfc4733", "NAT", "ja"):
        assert any(needed in item for item in checklist.split("- [ ]")), needed
    assert len(items) >= 8
