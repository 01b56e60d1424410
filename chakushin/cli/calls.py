"""``chakushin number show N --calls``: a number's recent calls and what became of each mail.

Issue 16 (MAIL-2, MAIL-10): for each call the decision and its reason, and
for each address its delivery (``store.delivery``): sent with the time,
queued or retrying with the attempts and the next try, failed with the kind
of failure and the mail server's raw reply (or our side's error when no
server answered), which the site never shows. Then the number's addresses
whose latest mail failed (the flag of the site's address page).

Issue 19 (CHAT-3, BOOK-2): each call also lists its chat and webhook notices
(``chats``: the destination's kind, its slot now, the name it was queued
with, the same statuses, the receiver's raw HTTP reply), and the caller's
phonebook name beside a presented number; then the destinations whose latest
notice failed.

In text, every stored text is printed through ``store.shown_text.one_line``:
a reply is whatever the server sent, and its line breaks, escape sequences
or bidi overrides must neither forge lines nor act on the terminal. JSON
gives the texts as stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from store import delivery, service
from store.delivery import Delivery, DeliveryStatus
from store.shown_text import one_line

TIME = "%Y-%m-%d %H:%M:%S %z"


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _delivery_data(d: Delivery) -> dict[str, Any]:
    return {
        "address": d.address,
        "status": d.status.value,
        "attempts": d.attempts,
        "queued_at": _when(d.queued_at),
        "sent_at": _when(d.sent_at),
        "next_attempt_at": _when(d.next_attempt_at),
        "failure": d.failure.value if d.failure is not None else None,
        "reply": d.reply or None,
    }


def _chat_data(d: Delivery) -> dict[str, Any]:
    """Issue 19: one destination's notice of the call (its slot None once removed)."""
    return {
        "kind": d.channel,
        "position": d.destination_position,
        "name": d.address,
        **{k: v for k, v in _delivery_data(d).items() if k != "address"},
    }


def calls_data(session: Session, number: str, limit: int) -> dict[str, Any]:
    """The ``calls``, ``recently_failed`` and ``recently_failed_destinations`` parts of
    ``number show --calls`` (JSON as is)."""
    calls = delivery.call_deliveries(session, number, limit)
    failed = delivery.recently_failed(session, number)  # however old: the operator's view
    failed_chats = delivery.recently_failed_destinations(session, number)
    # Issue 17 (MAIL-9): who answered, by the operator's device name, else
    # Asterisk's member name; the names read once for every call listed.
    answered = {c.call.answered_by for c in calls if c.call.answered_by}
    names = service.device_labels(session, answered) if answered else {}
    return {
        "calls": [
            {
                "started_at": c.call.started_at.isoformat(),
                "caller": c.call.caller,
                "caller_name": c.call.caller_name or None,
                "outcome": c.call.outcome.value,
                "answered_by": c.call.answered_by or None,
                "answered_name": names.get(c.call.answered_by) or c.call.answered_name or None,
                "mailed": c.call.mailed,
                "reason": c.call.reason,
                "rule": c.call.rule,
                "deliveries": [_delivery_data(d) for d in c.deliveries if not d.is_chat],
                "chats": [_chat_data(d) for d in c.deliveries if d.is_chat],
            }
            for c in calls
        ],
        "recently_failed": [
            {
                "address": f.address,
                "position": f.position,
                "failure": f.failure.value,
                "reply": f.reply or None,
                "queued_at": f.queued_at.isoformat(),
            }
            for f in sorted(failed.values(), key=lambda f: f.position)
        ],
        "recently_failed_destinations": [
            {
                "position": f.position,
                "kind": f.kind.value,
                "failure": f.failure.value,
                "reply": f.reply or None,
                "queued_at": f.queued_at.isoformat(),
            }
            for f in sorted(failed_chats.values(), key=lambda f: f.position)
        ],
    }


def _t(value: object) -> str:
    """A stored value as printed: one line, nothing a terminal acts on (issue 16)."""
    return one_line(str(value))


def _attempts(n: int) -> str:
    return f"{n} attempt{'' if n == 1 else 's'}"


def _delivery_line(d: dict[str, Any]) -> str:
    return f"      {_t(d['address'])}  {_said(d)}"


def _chat_line(d: dict[str, Any]) -> str:
    """Issue 19: 「slack #1 営業  sent ...」; a removed destination's slot is 「(removed)」."""
    slot = f"#{d['position']}" if d["position"] is not None else "(removed)"
    return f"      {_t(d['kind'])} {slot} {_t(d['name'])}  {_said(d)}"


def _said(d: dict[str, Any]) -> str:
    status = d["status"]
    if status == DeliveryStatus.SENT:
        said = f"sent {_shown(d['sent_at'])} after {_attempts(d['attempts'])}"
    elif status == DeliveryStatus.FAILED:
        said = f"failed ({d['failure']}) after {_attempts(d['attempts'])}: {_t(d['reply'] or '-')}"
    elif status == DeliveryStatus.RETRYING:
        said = (
            f"retrying: {_attempts(d['attempts'])}, next {_shown(d['next_attempt_at'])}; "
            f"last reply: {_t(d['reply'])}"
        )
    else:
        said = f"queued ({_attempts(d['attempts'])}), due {_shown(d['next_attempt_at'])}"
    return said


def _shown(iso: str | None) -> str:
    return dt.datetime.fromisoformat(iso).strftime(TIME) if iso else "-"


def render_calls(data: dict[str, Any], limit: int) -> str:
    calls = data["calls"]
    lines = [f"  recent calls ({len(calls)}, newest first, at most {limit}):"]
    if not calls:
        lines.append("    none")
    for c in calls:
        decided = f"{'mailed' if c['mailed'] else 'not mailed'} ({_t(c['reason'])}"
        decided += f", {_t(c['rule'])})" if c["rule"] else ")"
        outcome = c["outcome"]
        if c["answered_by"]:
            who = _t(c["answered_by"])
            outcome += (
                f" answered by {_t(c['answered_name'])} ({who})"
                if c["answered_name"]
                else (f" answered by {who}")
            )
        caller = _t(c["caller"])
        if c.get("caller_name"):  # issue 19 (BOOK-2): presented callers only
            caller += f" ({_t(c['caller_name'])})"
        lines.append(f"    {_shown(c['started_at'])}  from {caller}  {outcome}  {decided}")
        lines += [_delivery_line(d) for d in c["deliveries"]]
        lines += [_chat_line(d) for d in c.get("chats", ())]
    failed = data["recently_failed"]
    lines.append(f"  recently failed addresses ({len(failed)}):")
    lines += [
        f"    {f['position']}. {_t(f['address'])}  {f['failure']}: {_t(f['reply'] or '-')}"
        for f in failed
    ]
    chats = data.get("recently_failed_destinations", [])
    if chats:
        lines.append(f"  recently failed destinations ({len(chats)}):")
        lines += [
            f"    {f['position']}. {_t(f['kind'])}  {f['failure']}: {_t(f['reply'] or '-')}"
            for f in chats
        ]
    return "\n".join(lines)
