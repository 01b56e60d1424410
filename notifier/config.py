"""The notifier's settings: the ``[ami]``, ``[mail]`` and ``[chat]`` sections of the configuration.

Parsed and checked by ``chakushin.config``; ``notifier/`` receives them, never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from store.mail_message import FromAddress


@dataclass(frozen=True)
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "chakushin"
    secret: str = field(default="", metadata={"secret": True})
    # After a lost connection the delays between tries double up to this
    # (1-300 s). Calls that end while disconnected are never seen (AMI does
    # not replay events), so a few seconds: Asterisk back, notifier back.
    reconnect_max_seconds: int = 5


@dataclass(frozen=True)
class MailConfig:
    # Empty smtp_host: mails go to the local sink below instead of SMTP.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = field(default="", metadata={"secret": True})
    smtp_security: str = "none"  # none | starttls | tls
    # The sender of every mail: an address, or a display name and the address
    # ("着信お知らせメール <noreply@example.jp>"); the envelope has the address alone.
    from_address: str = "chakushin@localhost"
    sink: str = "maildir"  # maildir | console
    # Empty: data_dir/maildir.
    maildir: str = ""
    # MAIL-10: a mail that could not be delivered for this long is given up.
    retry_deadline_seconds: int = 86400
    # Mails sent at once over one SMTP connection each.
    concurrency: int = 4
    # A claimed mail is not taken by another worker for this long; after a
    # crash, mails that were in flight are sent again once it has passed.
    lease_seconds: int = 300
    # Seconds an SMTP command may take before the attempt counts as failed.
    smtp_timeout_seconds: int = 30
    # MAIL-9: a directory whose subject.txt / body.txt / test_subject.txt /
    # test_body.txt replace the shipped templates (notifier/templates/).
    templates_dir: str = ""

    @property
    def sender_name(self) -> str:
        """The display name of ``from_address`` ("" when it has none)."""
        return FromAddress.parse(self.from_address).display_name

    @property
    def sender_address(self) -> str:
        """The bare address of ``from_address``: the envelope sender (MAIL FROM)."""
        return FromAddress.parse(self.from_address).address

    @property
    def sender_domain(self) -> str:
        """The domain subscribers must allow to receive the mails (受信指定ドメイン)."""
        return FromAddress.parse(self.from_address).domain


@dataclass(frozen=True)
class ChatConfig:
    """Issue 19 (CHAT-3): how chat and webhook notices are posted (``notifier.webhooks``)."""

    # Seconds one POST may take in all (connecting, sending, the answer).
    timeout_seconds: float = 10.0
    # Bytes of a receiver's answer that are read (the rest is not).
    max_response_bytes: int = 4096
    # Hosts that may be posted to over http:// and are exempt from the kinds'
    # host rules and from the public-address rule (a test server, an in-house
    # receiver): exact host names or IP addresses.
    allow_hosts: tuple[str, ...] = ()
    # Chatwork's API; messages go to {chatwork_api}/rooms/{room_id}/messages.
    chatwork_api: str = "https://api.chatwork.com/v2"
    # Notices posted at once.
    concurrency: int = 4
