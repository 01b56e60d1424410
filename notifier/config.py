"""The notifier's settings: the ``[ami]`` and ``[mail]`` sections of the configuration.

Parsed and checked by ``chakushin.config``; ``notifier/`` receives them, never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "chakushin"
    secret: str = field(default="", metadata={"secret": True})


@dataclass(frozen=True)
class MailConfig:
    # Empty smtp_host: mails go to the local sink below instead of SMTP.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = field(default="", metadata={"secret": True})
    smtp_security: str = "none"  # none | starttls | tls
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
