"""Issue 18: ``chakushin api token create/list/revoke`` and ``chakushin api openapi``.

On both backends, through the CLI's entry point: the secret is printed once
and never stored or logged (only its SHA-256 is kept), a revoked token is
refused by the API at once, a name is never reused, and a hostile name is
refused with nothing stored.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from store import db
from store.api_tokens import MAX_NAME, list_tokens
from tests.builders import snapshot
from tests.cli.conftest import Chakushin
from web.api.app import create_api
from web.api.deps import ApiDeps

SECRET = re.compile(r"chk_[A-Za-z0-9_-]{43}")


def _secret_of(text: str) -> str:
    [secret] = SECRET.findall(text)
    return str(secret)


def _whoami(sessions: sessionmaker[Session], secret: str) -> int:
    app = create_api(ApiDeps(sessions))
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        return int(client.get("/api/v1/token").status_code)


def test_issue18_token_create_prints_the_secret_once_stores_only_its_hash(
    chakushin: Chakushin, sessions: sessionmaker[Session]
) -> None:
    result = chakushin("api", "token", "create", "provisioner", "--scope", "write")
    secret = _secret_of(result.stdout)
    assert "provisioner" in result.stdout and "write" in result.stdout
    # The log (warning level, written without -v) says a token was made, never its secret.
    assert secret not in result.stderr
    [event] = [json.loads(e) for e in result.stderr.splitlines() if "api_token_created" in e]
    assert event["token"] == "provisioner" and event["scope"] == "write"
    # Only the hash is in the database: no row holds the secret, one holds its SHA-256.
    rows = repr(snapshot(chakushin.db_url))
    assert secret not in rows and secret[4:] not in rows
    assert hashlib.sha256(secret.encode()).hexdigest() in rows
    # The secret works: the API accepts it.
    assert _whoami(sessions, secret) == 200
    # --json: the same, as one object.
    made = chakushin.json("api", "token", "create", "dashboard", "--scope", "read")
    assert made["name"] == "dashboard" and made["scope"] == "read"
    assert SECRET.fullmatch(made["secret"]) and made["secret"] != secret
    assert made["revoked_at"] is None and made["last_used_at"] is None
    # Listing never shows a secret.
    listed = chakushin("api", "token", "list")
    assert "provisioner" in listed.stdout and "dashboard" in listed.stdout
    assert "chk_" not in listed.stdout


def test_issue18_token_list_shows_scope_created_last_used_and_revoked(
    chakushin: Chakushin, sessions: sessionmaker[Session]
) -> None:
    assert "no api tokens" in chakushin("api", "token", "list").stdout
    assert chakushin.json("api", "token", "list") == []
    secret = chakushin.json("api", "token", "create", "b-used", "--scope", "read")["secret"]
    chakushin("api", "token", "create", "a.revoked", "--scope", "write")
    assert _whoami(sessions, secret) == 200
    chakushin("api", "token", "revoke", "a.revoked")
    listed = chakushin.json("api", "token", "list")
    assert [t["name"] for t in listed] == ["a.revoked", "b-used"]
    revoked, used = listed
    assert revoked["scope"] == "write" and revoked["revoked_at"] is not None
    assert revoked["last_used_at"] is None
    assert used["scope"] == "read" and used["revoked_at"] is None
    assert used["last_used_at"] is not None and used["created_at"] is not None
    text = chakushin("api", "token", "list").stdout.splitlines()
    assert text[0].split() == ["NAME", "SCOPE", "CREATED", "LAST", "USED", "REVOKED"]
    assert text[1].startswith("a.revoked") and text[1].rstrip().endswith("UTC")
    assert text[2].startswith("b-used") and text[2].rstrip().endswith("-")


def test_issue18_token_revoke_stops_it_at_once(
    chakushin: Chakushin, sessions: sessionmaker[Session]
) -> None:
    secret = chakushin.json("api", "token", "create", "cron", "--scope", "write")["secret"]
    other = chakushin.json("api", "token", "create", "other", "--scope", "write")["secret"]
    app = create_api(ApiDeps(sessions))
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as client:
        assert client.get("/api/v1/token").json() == {"name": "cron", "scope": "write"}
        result = chakushin("api", "token", "revoke", "cron")
        assert "cron revoked" in result.stdout
        [event] = [json.loads(e) for e in result.stderr.splitlines() if "api_token_revoked" in e]
        assert event["token"] == "cron"
        # The same running app, the next request: refused.
        refused = client.get("/api/v1/token")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert _whoami(sessions, other) == 200  # only that one
    # Revoking again changes nothing; the time of the first revocation stays.
    first = chakushin.json("api", "token", "list")[0]["revoked_at"]
    again = chakushin.json("api", "token", "revoke", "cron")
    assert again["revoked_at"] == first


def test_issue18_token_names_are_never_reused_and_unknown_names_refused(
    chakushin: Chakushin,
) -> None:
    chakushin("api", "token", "create", "ops", "--scope", "read")
    error = chakushin.refused("api", "token", "create", "ops", "--scope", "write")
    assert "a token named ops exists" in error
    chakushin("api", "token", "revoke", "ops")
    assert "exists" in chakushin.refused("api", "token", "create", "ops", "--scope", "read")
    assert "no token named nobody" in chakushin.refused("api", "token", "revoke", "nobody")
    line = chakushin("--json", "api", "token", "revoke", "nobody", ok=False).stderr
    assert json.loads(line)["error"] == "api_token_not_found"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * (MAX_NAME + 1),
        "-leading-dash",
        ".hidden",
        "has space",
        "new\nline",
        "tab\there",
        "nul\x00",
        "トークン",
        "ｆｕｌｌ",
        "rtl\u202eevil",
        "semi;colon",
        "../up",
        "a/b",
        "quote'",
        "${HOME}",
    ],
)
def test_issue18_hostile_token_names_are_refused_with_nothing_stored(
    chakushin: Chakushin, sessions: sessionmaker[Session], name: str
) -> None:
    error = chakushin.refused("api", "token", "create", "--scope", "write", "--", name)
    assert "a token name is 1-40 characters" in error
    with db.transaction(sessions, read_only=True) as s:
        assert list_tokens(s) == []


def test_issue18_token_name_limits_and_scope(chakushin: Chakushin) -> None:
    longest = "a" + "Z9_.-" * 7 + "bcde"
    assert len(longest) == MAX_NAME
    assert chakushin.json("api", "token", "create", longest, "--scope", "read")["name"] == longest
    # The scope is read or write (click refuses anything else: usage error, status 2).
    chakushin.refused("api", "token", "create", "x", "--scope", "admin", status=2)
    missing = chakushin("api", "token", "create", "x", ok=False)
    assert missing.exit_code == 2 and "Missing option '--scope'" in missing.stderr
    assert [t["name"] for t in chakushin.json("api", "token", "list")] == [longest]


def test_issue18_api_openapi_prints_the_document(chakushin: Chakushin) -> None:
    document = json.loads(chakushin("api", "openapi").stdout)
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/token" in document["paths"]
