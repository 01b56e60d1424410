"""Issue 17 (CALL-1, MAIL-9): an office number's devices and who answered, in words.

The サービス選択 says where the number's calls ring: its devices in the
order they are dialled, each by the name the operator gave it
(``chakushin device name``; 「受付（PJSIP/201）」, else the interface), or
its queue. A number with neither rings the PBX's default device for it
(``call.fallback_endpoint``), which the site does not know: nothing is said.

The call history says who answered an answered call as the mail does
(「応答：受付（PJSIP/201）」): the operator's name for the interface, else
the member name Asterisk gave (queues.conf), else the interface alone.
The names are loaded once per page, for the interfaces the page shows.

Every name is plain text here; the templates escape it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from store import delivery, labels, service
from store.bulk import HistoryRow
from store.delivery import CallDeliveries
from store.models import CallOutcome
from web.texts import page


def named(interface: str, name: str) -> str:
    """受付（PJSIP/201）, or the interface alone when it has no other name: the mail's
    words (store.labels), so the history and the mail never say it differently."""
    return labels.answered_by_label(interface, "" if name == interface else name)


def rings(session: Session, data: Mapping[str, Any]) -> str:
    """Where the number's calls ring (its ``describe_number`` data), with the names of its
    devices (one query), or "" when the site does not know (no devices, no queue)."""
    if data["queue"]:
        return page("office.rings", where=page("office.queue", queue=data["queue"]))
    devices: Sequence[str] = data["devices"]
    if not devices:
        return ""
    names = service.device_labels(session, devices)
    where = page("list.separator").join(named(d, names.get(d, "")) for d in devices)
    return page("office.rings", where=where)


def answered(call: HistoryRow, names: Mapping[str, str]) -> str:
    """「応答：受付（PJSIP/201）」 for an answered call whose answerer is known, else ""."""
    if call.outcome is not CallOutcome.ANSWERED or not call.answered_by:
        return ""
    name = names.get(call.answered_by) or call.answered_name
    return labels.ANSWERED_BY_PREFIX + named(call.answered_by, name)


def history_calls(
    session: Session, number: str, limit: int
) -> tuple[list[CallDeliveries], dict[str, str]]:
    """``store.delivery.call_deliveries`` and the names of every interface that answered
    one of those calls (one query for the names, whatever the calls)."""
    calls = delivery.call_deliveries(session, number, limit)
    interfaces = {c.call.answered_by for c in calls if c.call.answered_by}
    return calls, service.device_labels(session, interfaces) if interfaces else {}
