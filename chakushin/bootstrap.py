"""The one composition root (issue 13): every part of a process, built from its ``Config``.

As cosmicpython's ``bootstrap()``: the entry points (``chakushin serve``
and its one-role forms ``site``, ``agi-server`` and ``notifier``, the demo,
``chakushin-agi``, and the commands that mail or render) read the config
once and build their parts here. What lies below receives its own settings
section (``AgiConfig``, ``AmiConfig``, ``SiteConfig``, ``IvrConfig``,
``CallConfig``), a small settings object of its own (``DialplanSettings``,
``RetryPolicy``, ``SmtpSettings``) and its collaborators (the session
factory, the templates, the senders), never the ``Config``: ``agi/``,
``notifier/``, ``dialplan/`` and ``web/`` import nothing from ``chakushin``
(``tests/house``). Nothing is built at import time.

``chakushin serve`` (``chakushin.serve.Node``) builds nothing itself: the
notifier, the FastAGI server, the site's dependencies, application and
server, the metrics endpoint and the node's reporter come from here, and
the node binds, starts and stops them in its order (OPS-1).

Each builder imports its part when it builds it: ``chakushin line add``
needs an engine and sessions, not the site, the FastAGI server and the
notifier (nearly a second of imports on every command otherwise).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from chakushin.config import Config, ConfigError
from notifier.config import MailConfig
from store import db

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.applications import Starlette

    from agi.server import FastAGIServer, SessionStats
    from agi.wiring import Route
    from chakushin.metrics import MetricsServer
    from chakushin.node import NodeReporter, NodeSnapshot
    from dialplan.render import DialplanSettings
    from notifier.app import NotifierService
    from notifier.mail import Templates
    from notifier.outbox import RetryPolicy, Sender, SendResult, SmtpSettings
    from notifier.webhooks import WebhookSettings
    from web.api.deps import ApiDeps
    from web.app import SiteDeps
    from web.deps import SampleMail
    from web.server import SiteServer


# --- the store ---------------------------------------------------------------------


def make_engine(config: Config) -> Engine:
    """The engine of ``database.url`` (or the SQLite file in ``data_dir``); no connection yet."""
    return db.make_engine(config.database_url)


def open_sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory, once the schema is current (a SQLite file is created on first use)."""
    db.ensure_schema(engine)
    return db.session_factory(engine)


# --- mail (MAIL-2, MAIL-9, MAIL-10) ------------------------------------------------


def load_templates(config: Config) -> Templates:
    """The mail templates (MAIL-9): the shipped ones, or ``mail.templates_dir``'s, checked."""
    from notifier.mail import TemplateError, Templates

    try:
        return Templates.load(config.mail.templates_dir or None)
    except TemplateError as exc:
        raise ConfigError.of(
            [ConfigError(problem, key="mail.templates_dir") for problem in exc.problems]
        ) from None


def smtp_settings(mail: MailConfig) -> SmtpSettings:
    from notifier.outbox import SmtpSettings

    return SmtpSettings(
        mail.smtp_host,
        mail.smtp_port,
        mail.smtp_username,
        mail.smtp_password,
        mail.smtp_security,
        float(mail.smtp_timeout_seconds),
    )


def make_senders(config: Config) -> list[Sender]:
    """``mail.concurrency`` SMTP connections when a host is set, else the local sink (OPS-1)."""
    from notifier.outbox import ConsoleSender, MaildirSender, SmtpSender

    mail = config.mail
    if mail.smtp_host:
        settings = smtp_settings(mail)
        return [SmtpSender(settings) for _ in range(mail.concurrency)]
    if mail.sink == "console":
        return [ConsoleSender()]
    return [MaildirSender(config.maildir)]


def retry_policy(mail: MailConfig) -> RetryPolicy:
    """MAIL-10: how long a mail is retried, and how long a claimed one is leased."""
    from notifier.outbox import RetryPolicy

    return RetryPolicy(
        deadline=dt.timedelta(seconds=mail.retry_deadline_seconds),
        lease=dt.timedelta(seconds=mail.lease_seconds),
    )


def notifier_service(
    config: Config,
    sessions: sessionmaker[Session],
    *,
    senders: list[Sender] | None = None,
    templates: Templates | None = None,
) -> NotifierService:
    """The notifier (AMI in, decisions and mail out); ``senders`` replaces the configured mailer."""
    from notifier.app import NotifierService

    return NotifierService(
        sessions,
        ami=config.ami,
        templates=templates if templates is not None else load_templates(config),
        senders=senders if senders is not None else make_senders(config),
        sender_address=config.mail.from_address,
        policy=retry_policy(config.mail),
        grace=float(config.serve.shutdown_timeout_seconds),
        e164_without_plus=config.call.e164_without_plus,
        chat=chat_settings(config),
        chat_concurrency=config.chat.concurrency,
    )


def send_test(
    config: Config, sessions: sessionmaker[Session], *, templates: Templates | None = None
) -> Callable[[str, str], Coroutine[Any, Any, SendResult]]:
    """MAIL-2 送信テスト through the configured mailer: a new connection for each test mail.

    A ``web.deps.SendTest`` (the one type of it: ``SiteDeps.send_test``) that
    also says it gives the notifier's whole ``SendResult`` in a coroutine, as
    ``chakushin mail test`` runs it and reads ``permanent``.
    """
    from notifier.app import send_test_mail

    loaded = templates if templates is not None else load_templates(config)

    async def send(number: str, address: str) -> SendResult:
        return await send_test_mail(
            sessions,
            number,
            address,
            sender_address=config.mail.from_address,
            templates=loaded,
            mailer=lambda: make_senders(config)[0],
        )

    return send


# --- chat and webhook notices (issue 19, CHAT-3) -----------------------------------


def chat_settings(config: Config) -> WebhookSettings:
    """How notices are posted (``[chat]``): the timeout, the answer's limit, the allowed hosts."""
    from notifier.webhooks import WebhookSettings

    return WebhookSettings.from_config(config.chat)


def chat_send_test(
    config: Config, sessions: sessionmaker[Session], *, templates: Templates | None = None
) -> Callable[[str, int], Coroutine[Any, Any, SendResult]]:
    """MAIL-2 送信テスト of a destination (number, position), posted now as the notifier posts.

    A new ``HttpSender`` for each test, closed after it; the site (``SiteDeps.
    chat_send_test``) and ``chakushin chat test`` run it and read the ``SendResult``.
    """
    from notifier.webhooks import HttpSender, send_test_chat

    loaded = templates if templates is not None else load_templates(config)

    async def send(number: str, position: int) -> SendResult:
        sender = HttpSender(chat_settings(config))
        try:
            return await send_test_chat(
                sessions,
                number,
                position,
                templates=loaded,
                sender=sender,
                now=dt.datetime.now(dt.UTC),
            )
        finally:
            await sender.close()

    return send


# --- the voice flows and the dialplan ----------------------------------------------


def agi_routes(config: Config, sessions: sessionmaker[Session]) -> Mapping[str, Route]:
    """The AGI scripts (IVR, call routing, the nuisance feature code) by their name."""
    from agi import wiring

    return wiring.routes(sessions, ivr=config.ivr, call=config.call)


def agi_server(config: Config, sessions: sessionmaker[Session]) -> FastAGIServer:
    """The FastAGI server on ``agi.host``/``agi.port`` (bound, not yet serving)."""
    from agi.server import FastAGIServer, SessionLimits

    return FastAGIServer(
        (config.agi.host, config.agi.port),
        agi_routes(config, sessions),
        sounds_dir=config.ivr.sounds_dir,
        allowed_peers=config.agi.allowed_peers,
        limits=SessionLimits.from_config(config.agi),
    )


def dialplan_settings(config: Config) -> DialplanSettings:
    """What ``dialplan.render`` needs (OPS-3): the FastAGI address, ``[ivr]`` and ``[call]``."""
    from dialplan.render import DialplanSettings

    return DialplanSettings(
        agi_host=config.agi.host, agi_port=config.agi.port, ivr=config.ivr, call=config.call
    )


# --- the settings site ---------------------------------------------------------------


def site_deps(
    config: Config, sessions: sessionmaker[Session], *, templates: Templates | None = None
) -> SiteDeps:
    """What the settings site needs (SITE-*): the store, its throttle, 送信テスト and ``[site]``.

    And what its guidance shows (issue 14): the access numbers of the
    temporary-password line (``ivr.access_numbers``, IVR-1) and a sample of
    the notification mail from the templates the notifier sends with.
    """
    from web.app import SiteDeps
    from web.ratelimit import LoginThrottle

    loaded = templates if templates is not None else load_templates(config)
    return SiteDeps(
        sessions,
        sender_address=config.mail.from_address,
        throttle=LoginThrottle(limit=config.site.login_failures_per_address),
        send_test=send_test(config, sessions, templates=loaded),
        config=config.site,
        access_numbers=config.ivr.access_numbers,
        sample_mail=sample_mail(config, loaded),
        nuisance_feature_code=config.call.nuisance_feature_code,
        # Issue 19 (CHAT-1, MAIL-2): 送信テスト of destinations; http:// hosts the site accepts.
        chat_send_test=chat_send_test(config, sessions, templates=loaded),
        chat_allow_hosts=config.chat.allow_hosts,
    )


# A call as the help page's sample mail shows it: from a number, not answered.
SAMPLE_CALLED_NUMBER = "0312345678"
SAMPLE_CALLER_NUMBER = "0398765432"
SAMPLE_STARTED_AT = dt.datetime(2026, 4, 1, 1, 15, tzinfo=dt.UTC)  # 10:15 in Asia/Tokyo


def sample_mail(config: Config, templates: Templates) -> SampleMail:
    """MAIL-9: the notification mail ``templates`` compose for a sample call (the help page)."""
    from notifier.mail import compose
    from notifier.model import CallRecord, MailSettings
    from store.models import CallOutcome, Presentation
    from web.deps import SampleMail

    call = CallRecord(
        linkedid="sample",
        subscriber_number=SAMPLE_CALLED_NUMBER,
        caller_number=SAMPLE_CALLER_NUMBER,
        presentation=Presentation.ALLOWED,
        outcome=CallOutcome.UNANSWERED,
        started_at=SAMPLE_STARTED_AT,
        ended_at=SAMPLE_STARTED_AT + dt.timedelta(seconds=30),
    )
    settings = MailSettings(
        number=SAMPLE_CALLED_NUMBER,
        subscribed=True,
        started=True,
        designated_only=False,
        unanswered_only=False,
        addresses=(),
        designated=(),
        timezone=config.timezone,
    )
    message = compose(
        call, settings, "sample@example.jp", sender=config.mail.from_address, templates=templates
    )
    part = message.get_body(("plain",))
    return SampleMail(
        sender=str(message["From"]),
        subject=str(message["Subject"]),
        body=str(part.get_content()) if part is not None else "",
        domain=config.mail.sender_domain,
    )


def site_app(deps: SiteDeps) -> Starlette:
    """The settings site's ASGI application (SITE-*) on ``site_deps``'s dependencies."""
    from web.app import create_app

    return create_app(deps)


def site_server(config: Config, app: Starlette) -> SiteServer:
    """The site's HTTP server on ``site.host``/``site.port`` (bound, not yet serving)."""
    from web.server import SiteServer

    return SiteServer(app, config.site.host, config.site.port)


# --- the provisioning API (issue 18) -------------------------------------------------


def api_deps(
    config: Config, sessions: sessionmaker[Session], *, templates: Templates | None = None
) -> ApiDeps:
    """What the API needs: the store, the config's time zone, ``[api]``'s failure limit and
    MAIL-2 送信テスト through the node's mailer (``POST /numbers/{n}/mail/test``)."""
    from web.api.deps import ApiDeps

    return ApiDeps(
        sessions,
        default_timezone=config.timezone,
        send_test=send_test(config, sessions, templates=templates),
        auth_failures_per_minute=config.api.auth_failures_per_minute,
        chat_allow_hosts=config.chat.allow_hosts,
        chat_send_test=chat_send_test(config, sessions, templates=templates),
    )


def api_app(deps: ApiDeps) -> FastAPI:
    """The provisioning API's ASGI application (``/api/v1``) on ``api_deps``'s dependencies."""
    from web.api.app import create_api

    return create_api(deps)


def api_server(config: Config, app: FastAPI) -> SiteServer:
    """The API's HTTP server on ``api.host``/``api.port`` (bound, not yet serving).

    The site's server class: the same uvicorn in the node's event loop, its
    own socket, no proxy headers read (the API's failure count is per TCP peer).
    """
    from web.server import SiteServer

    return SiteServer(app, config.api.host, config.api.port)


# --- the node (chakushin serve) ------------------------------------------------------


def node_reporter(
    config: Config,
    sessions: sessionmaker[Session],
    roles: tuple[str, ...],
    snapshot: Callable[[], NodeSnapshot],
) -> NodeReporter:
    """This node's row for ``chakushin status``, kept fresh every ``serve.heartbeat_seconds``.

    Named ``serve.node_name``, or after the host and the roles so that two
    processes on one host differ; ``snapshot`` is what the node reports.
    """
    from chakushin import node

    name = config.serve.node_name or node.default_node_name(roles)
    return node.NodeReporter(sessions, name, roles, config.serve.heartbeat_seconds, snapshot)


def metrics_server(
    config: Config,
    sessions: sessionmaker[Session],
    node_name: str,
    *,
    notifier: NotifierService | None,
    agi: SessionStats | None,
    site_logins: Mapping[str, int] | None,
) -> MetricsServer:
    """OPS-4: the metrics endpoint on ``metrics.host``/``metrics.port`` of the parts that run.

    It serves from its own thread once built; ``MetricsServer.stop`` ends it.
    """
    from chakushin.metrics import MetricsServer, Sources

    sources = Sources(sessions, node_name, notifier=notifier, agi=agi, site_logins=site_logins)
    return MetricsServer.start(config.metrics.host, config.metrics.port, sources)
