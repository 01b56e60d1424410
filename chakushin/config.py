"""Configuration: one TOML file, every key overridable by environment.

The file is found by ``--config``, else ``$CHAKUSHIN_CONFIG``, else
``./chakushin.toml`` when it exists; without one the defaults make a
working single box. A key ``section.name`` is overridden by the variable
``CHAKUSHIN_SECTION_NAME`` (top-level keys: ``CHAKUSHIN_NAME``). Lists in
the environment are comma-separated. The result is validated once and
passed down as a frozen object; every error names the key it is about,
and every problem of a file is reported at once, not only the first.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import tomllib
import types
import typing
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agi.config import AgiConfig as AgiConfig
from dialplan.config import CallConfig as CallConfig
from dialplan.config import IvrConfig as IvrConfig
from notifier.config import AmiConfig as AmiConfig
from notifier.config import ChatConfig as ChatConfig
from notifier.config import MailConfig as MailConfig
from store import validation
from store.db import parse_url
from store.errors import DomainError, StoreUnavailable
from store.mail_message import FromAddress, UnsafeHeader
from web.config import SiteConfig as SiteConfig

ENV_PREFIX = "CHAKUSHIN_"
CONFIG_ENV = "CHAKUSHIN_CONFIG"
DEFAULT_FILE = "chakushin.toml"
MASK = "********"


class ConfigError(ValueError):
    """The configuration cannot be used; ``key`` names the offending key.

    ``problems`` is every problem found, each a ``ConfigError`` naming its
    key (``config check`` prints one line each); a single problem is the
    error itself.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.problems: tuple[ConfigError, ...] = (self,)

    @classmethod
    def of(cls, problems: Sequence[ConfigError]) -> ConfigError:
        """One error for all ``problems``: in one line, keyed by the first."""
        if len(problems) == 1:
            return problems[0]
        error = cls(f"{len(problems)} problems: " + "; ".join(str(p) for p in problems))
        error.key = problems[0].key
        error.problems = tuple(problems)
        return error


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "chakushin")


@dataclass(frozen=True)
class DatabaseConfig:
    # Empty: a SQLite file chakushin.db in data_dir.
    url: str = field(default="", metadata={"secret_url": True})


@dataclass(frozen=True)
class ServeConfig:
    # What `chakushin serve` runs in this process. Several nodes can share
    # one PostgreSQL database: e.g. one notifier per Asterisk, the site on
    # another host.
    agi: bool = True
    notifier: bool = True
    site: bool = True
    # Issue 18: the provisioning API ([api]); off unless switched on here.
    api: bool = False
    # How this node names itself in `chakushin status`; empty: host/roles
    # (e.g. "pbx1/agi+notifier"), so that two processes on one host differ.
    node_name: str = ""
    # On SIGTERM/SIGINT: calls in progress and mails being sent get this long
    # to finish; what is left stays in the outbox for the next start.
    shutdown_timeout_seconds: int = 30
    # Seconds between the node's reports in the database (`chakushin status`).
    heartbeat_seconds: int = 10
    # `chakushin status` is unhealthy when a mail has waited longer than this.
    outbox_alert_seconds: int = 900


@dataclass(frozen=True)
class MetricsConfig:
    # OPS-4: Prometheus text format at http://host:port/metrics.
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9780


@dataclass(frozen=True)
class ApiConfig:
    # Issue 18: the provisioning API (/api/v1, bearer tokens made by
    # `chakushin api token create`), run by `chakushin serve` when serve.api is
    # true. It listens on loopback unless host is set to another address: the
    # operator's choice (put a TLS proxy in front of it beyond this host).
    host: str = "127.0.0.1"
    port: int = 8082
    # Failed tokens from one client address in one minute before it gets 429
    # for the rest of that minute.
    auth_failures_per_minute: int = 20


MAX_API_FAILURES = 10_000  # api.auth_failures_per_minute: 1-10000


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"  # debug | info | warning | error
    format: str = "auto"  # auto (pretty on a terminal, JSON otherwise) | console | json


@dataclass(frozen=True)
class Config:
    data_dir: str = field(default_factory=_default_data_dir)
    timezone: str = "Asia/Tokyo"
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    ami: AmiConfig = field(default_factory=AmiConfig)
    agi: AgiConfig = field(default_factory=AgiConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    ivr: IvrConfig = field(default_factory=IvrConfig)
    call: CallConfig = field(default_factory=CallConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    log: LogConfig = field(default_factory=LogConfig)
    source: str = field(default="", metadata={"internal": True})

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{Path(self.data_dir) / 'chakushin.db'}"

    @property
    def maildir(self) -> str:
        return self.mail.maildir or str(Path(self.data_dir) / "maildir")


# --- loading ----------------------------------------------------------------


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, override and validate; raise ``ConfigError`` with every problem found."""
    env = os.environ if env is None else env
    explicit = path if path is not None else env.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    source = "defaults"
    file = Path(explicit) if explicit else Path(DEFAULT_FILE)
    if explicit or _exists(file):
        data = _read_toml(file)
        source = str(file)
    problems: list[ConfigError] = []
    built = _build(Config, data, "", env, problems)
    config: Config = dataclasses.replace(built, source=source)
    try:
        _validate(config, problems)
    except ConfigError as exc:  # a check that raised instead of reporting
        problems.append(exc)
    if problems:
        raise ConfigError.of(problems)
    return config


def _exists(file: Path) -> bool:
    try:
        return file.exists()
    except OSError as exc:  # e.g. started from a directory this user cannot read
        raise ConfigError(f"cannot look for {str(file)!r}: {exc.strerror or exc}") from None


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(file)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(file)!r} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(file)!r} cannot be read: {exc}") from None


def _build(
    cls: type[Any],
    table: Mapping[str, Any],
    prefix: str,
    env: Mapping[str, str],
    problems: list[ConfigError],
) -> Any:
    """The section ``cls`` from ``table`` and ``env``; a bad value keeps the default.

    Each bad value is added to ``problems`` and the rest is still read, so
    that one run names every problem.
    """
    if not isinstance(table, Mapping):
        problems.append(ConfigError("must be a table ([section])", key=prefix.rstrip(".")))
        table = {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for name in table:
        if name not in fields:
            known = ", ".join(prefix + f for f in fields)
            problems.append(ConfigError(f"unknown key (known keys: {known})", key=prefix + name))
    values: dict[str, Any] = {}
    for name in fields:
        key = prefix + name
        kind = hints[name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            values[name] = _build(kind, table.get(name, {}), key + ".", env, problems)
            continue
        env_name = ENV_PREFIX + key.replace(".", "_").upper()
        try:
            if env_name in env:
                value = _from_env(env[env_name], kind, f"{key} (from ${env_name})")
            elif name in table:
                value = _typed(table[name], kind, key)
            else:
                continue
            for text in value if isinstance(value, tuple) else (value,):
                if isinstance(text, str):
                    _printable(text, key)
        except ConfigError as exc:
            problems.append(exc)
            continue
        values[name] = value
    return cls(**values)


MAX_TEXT = 4096  # characters in one config value (a path, a URL, a name)
MAX_SUPPORT_CONTACT = 200  # site.support_contact: one line on the login and help pages


def _printable(text: str, key: str) -> None:
    """No value goes on unless it is printable text of a sane length.

    A CR/LF in ami.username or mail.from_address would inject headers into
    an AMI action or a mail; a bidi override or NUL makes logs and errors
    lie about the value. So every text value, of every key, is checked here.
    """
    if len(text) > MAX_TEXT:
        raise ConfigError(f"is longer than {MAX_TEXT} characters", key=key)
    if not text.isprintable():
        bad = next(c for c in text if not c.isprintable())
        raise ConfigError(f"contains a control or formatting character (U+{ord(bad):04X})", key=key)


def _typed(value: Any, kind: Any, key: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"expected true or false, got {value!r}", key=key)
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"expected a whole number, got {value!r}", key=key)
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _finite(float(value), key)
        raise ConfigError(f"expected a number, got {value!r}", key=key)
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"expected a string, got {value!r}", key=key)
    if typing.get_origin(kind) is tuple:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"expected a list of strings, got {value!r}", key=key)
    raise TypeError(f"unsupported config type {kind!r}")  # pragma: no cover


def _from_env(raw: str, kind: Any, key: str) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"expected true or false, got {raw!r}", key=key)
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"expected a whole number, got {raw!r}", key=key) from None
    if kind is float:
        try:
            number = float(raw)
        except ValueError:
            raise ConfigError(f"expected a number, got {raw!r}", key=key) from None
        return _finite(number, key)
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind is str or isinstance(kind, types.UnionType):
        return raw
    raise TypeError(f"unsupported config type {kind!r}")  # pragma: no cover


def _finite(value: float, key: str) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"expected a finite number, got {value!r}", key=key)
    return value


def _choice(value: str, choices: tuple[str, ...], key: str) -> None:
    if value not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)}; got {value!r}", key=key)


def _port(value: int, key: str, *, any_free: bool = False) -> None:
    low = 0 if any_free else 1
    if not low <= value <= 65535:
        raise ConfigError(f"port must be {low}-65535; got {value}", key=key)


def _dial_template(template: str, key: str, *, one_device: bool = False) -> None:
    if template.count("{number}") != 1 or template.replace("{number}", "").count("{"):
        raise ConfigError("must contain {number} once and no other {...}", key=key)
    if one_device and "&" in template:
        # Issue 17: Voice Warp forwards to one destination (CALL-4); the
        # forward leg's status and cause decide MAIL-8, which several legs blur.
        raise ConfigError("must dial one destination, without &", key=key)
    try:
        validation.endpoint(template.format(number="0312345678"))
    except DomainError as exc:
        raise ConfigError(exc.message, key=key) from None


def _validate(config: Config, problems: list[ConfigError]) -> None:
    """Every check runs; each problem is added to ``problems``, naming its key."""

    def bad(message: str, key: str) -> None:
        problems.append(ConfigError(message, key=key))

    def check(rule: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        # A rule that raises: a ConfigError, or a DomainError naming its field.
        try:
            rule(*args, **kwargs)
        except ConfigError as exc:
            problems.append(exc)
        except DomainError as exc:
            bad(exc.message, exc.field or "")

    if not config.data_dir:
        bad("must not be empty", "data_dir")
    check(validation.time_zone, config.timezone)
    for number in config.ivr.access_numbers:
        check(validation.subscriber_number, number, field="ivr.access_numbers")
    check(_from_address, config.mail.from_address)
    try:
        parse_url(config.database_url)
    except StoreUnavailable as exc:  # store.db.DatabaseError, code database_url
        bad(exc.message, "database.url")
    for key, port in (("ami.port", config.ami.port), ("mail.smtp_port", config.mail.smtp_port)):
        check(_port, port, key)
    # Listening ports: 0 takes any free port (tests, the demo).
    for key, port in (
        ("agi.port", config.agi.port),
        ("site.port", config.site.port),
        ("api.port", config.api.port),
        ("metrics.port", config.metrics.port),
    ):
        check(_port, port, key, any_free=True)
    if not 1 <= config.ami.reconnect_max_seconds <= 300:
        bad(
            f"must be 1-300 seconds; got {config.ami.reconnect_max_seconds}",
            "ami.reconnect_max_seconds",
        )
    if not 60 <= config.mail.retry_deadline_seconds <= 7 * 86400:
        bad("must be 60 s to 7 days", "mail.retry_deadline_seconds")
    if not 1 <= config.mail.lease_seconds <= 3600:
        bad("must be 1-3600 seconds", "mail.lease_seconds")
    if not 1 <= config.mail.concurrency <= 64:
        bad("must be 1-64", "mail.concurrency")
    if not 1 <= config.mail.smtp_timeout_seconds <= 600:
        bad("must be 1-600 seconds", "mail.smtp_timeout_seconds")
    for peer in config.agi.allowed_peers:
        try:
            ipaddress.ip_address(peer)
        except ValueError:
            bad(
                f"{peer!r} is not an IP address (one address per entry, no networks)",
                "agi.allowed_peers",
            )
    if not 1 <= config.site.login_failures_per_address <= 10_000:
        bad("must be 1-10000", "site.login_failures_per_address")
    _validate_site(config.site, problems)
    _validate_chat(config.chat, problems, lease=config.mail.lease_seconds)
    if not 1 <= config.api.auth_failures_per_minute <= MAX_API_FAILURES:
        bad(
            f"must be 1-{MAX_API_FAILURES}; got {config.api.auth_failures_per_minute}",
            "api.auth_failures_per_minute",
        )
    if not config.api.host:
        bad("must not be empty (127.0.0.1: this host only)", "api.host")
    if not 1 <= config.serve.shutdown_timeout_seconds <= 600:
        bad("must be 1-600 seconds", "serve.shutdown_timeout_seconds")
    if not 1 <= config.serve.heartbeat_seconds <= 300:
        bad("must be 1-300 seconds", "serve.heartbeat_seconds")
    if not 60 <= config.serve.outbox_alert_seconds <= 7 * 86400:
        bad("must be 60 s to 7 days", "serve.outbox_alert_seconds")
    if len(config.serve.node_name) > 120 or any(
        not ch.isprintable() for ch in config.serve.node_name
    ):
        bad("must be at most 120 printable characters", "serve.node_name")
    if not 1 <= config.ivr.input_timeout_seconds <= 60:
        bad("must be 1-60 seconds", "ivr.input_timeout_seconds")
    _validate_agi(config.agi, problems)
    if not re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", config.ivr.sounds_dir):
        bad("must be a relative path of letters, digits, - and _", "ivr.sounds_dir")
    check(_dial_template, config.call.fallback_endpoint, "call.fallback_endpoint")
    check(_dial_template, config.call.forward_dial, "call.forward_dial", one_device=True)
    if not 5 <= config.call.ring_seconds <= 300:
        bad("must be 5-300 seconds", "call.ring_seconds")
    if not re.fullmatch(r"[0-9*#]{2,8}", config.call.nuisance_feature_code):
        bad("must be 2-8 of 0-9, * and #", "call.nuisance_feature_code")
    check(_choice, config.mail.smtp_security, ("none", "starttls", "tls"), "mail.smtp_security")
    check(_choice, config.mail.sink, ("maildir", "console"), "mail.sink")
    check(_choice, config.log.level, ("debug", "info", "warning", "error"), "log.level")
    check(_choice, config.log.format, ("auto", "console", "json"), "log.format")


def _from_address(value: str) -> None:
    """mail.from_address: an address, or ``Name <address>`` (the name RFC 2047-encoded)."""
    if not value:
        raise ConfigError("must not be empty", key="mail.from_address")
    try:
        FromAddress.parse(value)
    except UnsafeHeader as exc:
        raise ConfigError(str(exc), key="mail.from_address") from None


def _validate_agi(agi: AgiConfig, problems: list[ConfigError]) -> None:
    for key, value, low, high in (
        ("agi.idle_timeout_seconds", agi.idle_timeout_seconds, 5, 3600),
        ("agi.session_deadline_seconds", agi.session_deadline_seconds, 60, 86400),
        ("agi.max_line_bytes", agi.max_line_bytes, 1024, 1_048_576),
        ("agi.max_environment_lines", agi.max_environment_lines, 32, 1024),
        ("agi.max_sessions", agi.max_sessions, 1, 10_000),
    ):
        if not low <= value <= high:
            problems.append(ConfigError(f"must be {low}-{high}; got {value}", key=key))
    if not agi.allowed_peers and not is_loopback(agi.host):
        problems.append(
            ConfigError(
                f"must list Asterisk's address when agi.host ({agi.host!r}) is not a loopback "
                "address: anyone who reaches the FastAGI port can set temporary passwords",
                key="agi.allowed_peers",
            )
        )


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (a host name may resolve to anything: False)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: who knows what it resolves to


def _validate_site(site: SiteConfig, problems: list[ConfigError]) -> None:
    if len(site.support_contact) > MAX_SUPPORT_CONTACT:
        problems.append(
            ConfigError(
                f"must be one line of at most {MAX_SUPPORT_CONTACT} characters",
                key="site.support_contact",
            )
        )
    if site.public_url:
        try:
            _public_url(site.public_url)
        except ConfigError as exc:
            problems.append(exc)
    for proxy in site.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(
                ConfigError(
                    f"{proxy!r} is not an IP address or network (e.g. 10.0.0.0/24)",
                    key="site.trusted_proxies",
                )
            )
    for key, value, low, high in (
        ("site.max_form_bytes", site.max_form_bytes, 1024, 10 * 1024 * 1024),
        ("site.max_csv_upload_bytes", site.max_csv_upload_bytes, 1024, 64 * 1024 * 1024),
        ("site.csv_max_rows", site.csv_max_rows, 1, 100_000),
        ("site.send_tests_per_session", site.send_tests_per_session, 1, 1000),
        ("site.send_tests_per_number", site.send_tests_per_number, 1, 1000),
        ("site.send_test_window_seconds", site.send_test_window_seconds, 60, 7 * 86400),
        ("site.otp_wrong_codes_per_day", site.otp_wrong_codes_per_day, 1, 1000),
        ("site.otp_code_mails_per_day", site.otp_code_mails_per_day, 1, 1000),
        ("site.confirmation_failures_per_day", site.confirmation_failures_per_day, 1, 1000),
        ("site.verification_mails_per_day", site.verification_mails_per_day, 1, 1000),
    ):
        if not low <= value <= high:
            problems.append(ConfigError(f"must be {low}-{high}; got {value}", key=key))


MAX_CHAT_TIMEOUT = 120.0  # chat.timeout_seconds: 0.5-120
MAX_CHAT_RESPONSE = 1_048_576  # chat.max_response_bytes: 256 B - 1 MiB
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
)


def _validate_chat(chat: ChatConfig, problems: list[ConfigError], *, lease: int) -> None:
    """Issue 19 (CHAT-3): the ``[chat]`` section, one line per problem.

    A notice is posted only in the first half of its claim's lease (the
    mail's ``mail.lease_seconds``), so a post must end within the other
    half: else another node could claim and post it again meanwhile.
    """

    def bad(message: str, key: str) -> None:
        problems.append(ConfigError(message, key=f"chat.{key}"))

    if not 0.5 <= chat.timeout_seconds <= MAX_CHAT_TIMEOUT:
        bad(
            f"must be 0.5-{MAX_CHAT_TIMEOUT:g} seconds; got {chat.timeout_seconds:g}",
            "timeout_seconds",
        )
    elif chat.timeout_seconds * 2 >= lease:
        bad(
            f"must be under half of mail.lease_seconds ({lease}); got {chat.timeout_seconds:g}",
            "timeout_seconds",
        )
    if not 256 <= chat.max_response_bytes <= MAX_CHAT_RESPONSE:
        bad(f"must be 256-{MAX_CHAT_RESPONSE}; got {chat.max_response_bytes}", "max_response_bytes")
    if not 1 <= chat.concurrency <= 64:
        bad(f"must be 1-64; got {chat.concurrency}", "concurrency")
    for host in chat.allow_hosts:
        if not _allowed_host(host):
            bad(
                f"{host!r} is not a host name (lower case, no scheme or port) or an IP address",
                "allow_hosts",
            )
    try:
        _chatwork_api(chat.chatwork_api, chat.allow_hosts)
    except ConfigError as exc:
        problems.append(exc)


def _allowed_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOST_NAME.fullmatch(host) is not None
    return True


def _chatwork_api(url: str, allow_hosts: Sequence[str]) -> None:
    """chat.chatwork_api: https://host[:port][/path] (http:// only to an allowed host)."""
    key = "chat.chatwork_api"
    if not url.isascii() or any(ch.isspace() for ch in url):
        raise ConfigError("must be printable ASCII without spaces", key=key)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"is not a URL: {exc}", key=key) from None
    host = parts.hostname or ""
    if not host:
        raise ConfigError(f"must name a host; got {url!r}", key=key)
    if parts.scheme != "https" and not (parts.scheme == "http" and host in allow_hosts):
        raise ConfigError(
            f"must be https:// (http:// only to a chat.allow_hosts host); got {url!r}", key=key
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError("must not contain a user or password", key=key)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigError("must not have a query (?) or fragment (#)", key=key)
    if port == 0:
        raise ConfigError("port must be 1-65535", key=key)


def _public_url(url: str) -> None:
    """site.public_url: http(s)://host[:port][/path], nothing a link could be bent with."""
    key = "site.public_url"
    if not url.isprintable() or any(ch.isspace() for ch in url) or not url.isascii():
        raise ConfigError("must be printable ASCII without spaces", key=key)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"is not a URL: {exc}", key=key) from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"scheme must be http or https; got {url!r}", key=key)
    if not parts.hostname:
        raise ConfigError(f"must name a host; got {url!r}", key=key)
    if parts.username is not None or parts.password is not None:
        raise ConfigError("must not contain a user or password", key=key)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigError("must not have a query (?) or fragment (#)", key=key)
    if port == 0:
        raise ConfigError("port must be 1-65535", key=key)


# --- showing ----------------------------------------------------------------


def effective(config: Config) -> dict[str, Any]:
    """The config as a nested dict with secrets masked, for ``config check``."""

    def walk(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            if f.metadata.get("internal"):
                continue
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                out[f.name] = walk(value)
            elif f.metadata.get("secret"):
                out[f.name] = MASK if value else ""
            elif f.metadata.get("secret_url"):
                out[f.name] = _mask_url(value) if value else ""
            elif isinstance(value, tuple):
                out[f.name] = list(value)
            else:
                out[f.name] = value
        return out

    shown = walk(config)
    shown["database"]["effective_url"] = _mask_url(config.database_url)
    shown["mail"]["effective_maildir"] = config.maildir
    return shown


def _mask_url(url: str) -> str:
    return parse_url(url).render_as_string(hide_password=True)
