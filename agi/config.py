"""The FastAGI server's settings: the ``[agi]`` section of the configuration.

Parsed and checked by ``chakushin.config``; ``agi/`` receives it, never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgiConfig:
    host: str = "127.0.0.1"
    port: int = 4573
    # Peer addresses allowed to connect to the FastAGI server; empty: any
    # (then host must be a loopback address: the port sets temporary passwords).
    allowed_peers: tuple[str, ...] = ()
    # Limits on one peer (agi.server.SessionLimits); a real call never nears them.
    # A session whose peer takes this long to send one line is ended (the
    # timer does not restart on every byte).
    idle_timeout_seconds: int = 120
    # A session that lasts this long is ended (the longest IVR call: ~12 minutes).
    session_deadline_seconds: int = 900
    # Longest line Asterisk may send, in bytes (its lines are a few hundred).
    max_line_bytes: int = 8192
    # Most lines in the agi_* environment (Asterisk sends about 22).
    max_environment_lines: int = 64
    # Sessions at once; a connection beyond is closed at once, without a thread.
    max_sessions: int = 200
