"""Issue 18: the provisioning API as a part of ``chakushin serve`` (``[serve] api``, ``[api]``).

A real process on real TCP: with ``serve.api`` on, a token made by
``chakushin api token create`` (another process) is accepted at once and the
request is logged with the token's name; with it off (the default) nothing
listens on the API's port; a port in use is one clear line. The ``[api]``
section is checked as the others are.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chakushin import config
from chakushin.config import ConfigError
from tests.ops.serve_process import ChakushinProcess, chakushin_command, clean_env


def _env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A node with the site only (no AMI, no AGI): the API is what is tried."""
    return clean_env(
        CHAKUSHIN_DATABASE_URL=db_url,
        CHAKUSHIN_DATA_DIR=str(tmp_path),
        CHAKUSHIN_SERVE_AGI="off",
        CHAKUSHIN_SERVE_NOTIFIER="off",
        CHAKUSHIN_SITE_PORT="0",
        CHAKUSHIN_METRICS_ENABLED="off",
        CHAKUSHIN_SERVE_HEARTBEAT_SECONDS="1",
        CHAKUSHIN_LOG_FORMAT="json",
        CHAKUSHIN_LOG_LEVEL="info",
        **extra,
    )


def _cli(env: dict[str, str], cwd: Path, *args: str) -> Any:
    done = subprocess.run(
        [chakushin_command(), *args, "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _get(port: int, path: str, secret: str | None = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if secret is not None:
        request.add_header("Authorization", f"Bearer {secret}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), json.loads(refused.read())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_issue18_serve_runs_the_api_when_switched_on(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path, CHAKUSHIN_SERVE_API="true", CHAKUSHIN_API_PORT="0")
    serve = ChakushinProcess(["serve"], env, tmp_path)
    try:
        ready = serve.wait_event("serve_ready")
        assert ready["roles"] == ["site", "api"]
        port = ready["api_port"]
        assert isinstance(port, int) and port not in (0, ready["site_port"])
        # A token made by the CLI while the node runs is accepted at once, over TCP.
        made = _cli(env, tmp_path, "api", "token", "create", "crm-sync", "--scope", "write")
        status, _, body = _get(port, "/api/v1/token", made["secret"])
        assert (status, body) == (200, {"name": "crm-sync", "scope": "write"})
        # ... and the request is logged with the token's name, never its secret.
        logged = serve.wait_event("api_request", token="crm-sync")
        assert logged["status"] == 200 and logged["path"] == "/api/v1/token"
        assert logged["peer"] == "127.0.0.1"
        assert made["secret"] not in "\n".join(serve.lines)
        # No token: 401 problem+json; the document is public.
        status, headers, body = _get(port, "/api/v1/token")
        assert status == 401 and body["code"] == "unauthorized"
        assert headers["content-type"] == "application/problem+json"
        assert headers["www-authenticate"].startswith("Bearer")
        status, _, document = _get(port, "/api/v1/openapi.json")
        assert status == 200 and document["openapi"].startswith("3.1")
        # Revoked: refused by the running node at the next request.
        _cli(env, tmp_path, "api", "token", "revoke", "crm-sync")
        assert _get(port, "/api/v1/token", made["secret"])[0] == 401
        # chakushin status lists the node with its api role.
        health = _cli(env, tmp_path, "status")
        [node] = health["nodes"]
        assert node["roles"] == ["site", "api"]
        assert serve.terminate() == 0
    finally:
        serve.kill()
    assert any(line.startswith("chakushin serve (") and "/api/v1" in line for line in serve.lines)


def test_issue18_serve_without_api_leaves_its_port_closed(db_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = _env(db_url, tmp_path, CHAKUSHIN_API_PORT=str(port))  # serve.api: default (off)
    serve = ChakushinProcess(["serve"], env, tmp_path)
    try:
        ready = serve.wait_event("serve_ready")
        assert ready["roles"] == ["site"] and ready["api_port"] is None
        with socket.socket() as client, pytest.raises(ConnectionRefusedError):
            client.settimeout(10)
            client.connect(("127.0.0.1", port))
        assert serve.terminate() == 0
    finally:
        serve.kill()


def test_issue18_api_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = _env(
            f"sqlite:///{tmp_path / 'api.db'}",
            tmp_path,
            CHAKUSHIN_SERVE_SITE="off",
            CHAKUSHIN_SERVE_API="on",
            CHAKUSHIN_API_PORT=str(taken.getsockname()[1]),
        )
        serve = ChakushinProcess(["serve"], env, tmp_path)
        assert serve.process.wait(timeout=60) == 1
        serve.kill()
    assert serve.lines[-1] == "error: api.port: cannot listen: Address already in use"


def test_issue18_api_config_defaults_and_checks() -> None:
    defaults = config.load(env={})
    assert defaults.serve.api is False
    assert (defaults.api.host, defaults.api.port) == ("127.0.0.1", 8082)
    assert defaults.api.auth_failures_per_minute == 20
    # Another address is the operator's to set.
    wide = config.load(env={"CHAKUSHIN_API_HOST": "0.0.0.0", "CHAKUSHIN_SERVE_API": "on"})
    assert wide.api.host == "0.0.0.0" and wide.serve.api
    assert config.load(env={"CHAKUSHIN_API_PORT": "0"}).api.port == 0  # any free port
    for env, key, words in (
        ({"CHAKUSHIN_API_PORT": "70000"}, "api.port", "0-65535"),
        ({"CHAKUSHIN_API_PORT": "-1"}, "api.port", "0-65535"),
        ({"CHAKUSHIN_API_AUTH_FAILURES_PER_MINUTE": "0"}, "api.auth_failures_per_minute", "1-"),
        (
            {"CHAKUSHIN_API_AUTH_FAILURES_PER_MINUTE": "10001"},
            "api.auth_failures_per_minute",
            "1-10000",
        ),
        ({"CHAKUSHIN_API_HOST": ""}, "api.host", "must not be empty"),
        ({"CHAKUSHIN_API_HOST": "bad\x1bhost"}, "api.host", "control"),
        ({"CHAKUSHIN_SERVE_API": "maybe"}, "serve.api", "true or false"),
    ):
        with pytest.raises(ConfigError) as error:
            config.load(env=env)
        assert error.value.key is not None and error.value.key.startswith(key), env
        assert words in str(error.value), (env, str(error.value))
    shown = config.effective(defaults)
    assert shown["api"] == {"host": "127.0.0.1", "port": 8082, "auth_failures_per_minute": 20}
    assert shown["serve"]["api"] is False
