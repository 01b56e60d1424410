"""A number's settings as plain data, for the CLI's ``show`` and ``--json`` output."""

from __future__ import annotations

from typing import Any

from store import validation
from store.models import Number, Service
from store.service.mail import mail_warnings


def describe_number(found: Number) -> dict[str, Any]:
    """Everything about one number as plain data (hidden nuisance entries masked)."""
    n = found.notification
    nr = found.number_request
    vw = found.voice_warp
    return {
        "number": found.number,
        "contract_number": found.line.contract_number,
        "is_contract": found.is_contract,
        "auth_unit": found.line.auth_unit.value,
        "endpoint": found.endpoint,
        # Issue 17: the devices rung at once (from the endpoint), or the queue.
        "devices": list(validation.devices(found.endpoint)) if found.endpoint else [],
        "queue": found.queue,
        "queue_seconds": found.queue_seconds,
        "timezone": found.timezone,
        "services": sorted(s.value for s in Service if found.subscribes(s)),
        "mail": {
            "started": n.started,
            "designated_only": n.designated_only,
            "unanswered_only": n.unanswered_only,
            # Settings under which no call is mailed (store.service.mail.mail_warnings).
            "warnings": mail_warnings(found),
            "addresses": [
                {"position": a.position, "address": a.address, "send": a.send}
                for a in found.addresses
            ],
            "designated_numbers": [
                {
                    "position": d.position,
                    "caller_number": d.caller_number,
                    "designated": d.designated,
                }
                for d in found.designated
            ],
        },
        "nuisance_list": [
            {
                "position": e.position,
                "caller_number": None if e.hidden else e.caller_number,
                "hidden": e.hidden,
            }
            for e in found.nuisance
        ],
        "number_request": {
            "enabled": nr.enabled,
            "reject_payphone": nr.reject_payphone,
            "reject_unavailable": nr.reject_unavailable,
        },
        "voice_warp": {
            "enabled": vw.enabled,
            "mode": vw.mode.value,
            "destination": vw.destination,
            "ring_seconds": vw.ring_seconds,
        },
    }
