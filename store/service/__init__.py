"""The domain layer: every write to lines, numbers and their settings.

The CLI, the IVR, the notifier and the site all call these functions with a
session inside one transaction (``store.db.transaction``). Each function
checks every rule before it changes anything and raises a typed
``DomainError`` on the first break, so the caller's rollback leaves the
database as it was. Numbers are addressed by their digits, as people do.

One module per area of SPEC.md:

- ``lines``: lines and numbers (provisioning, the auth unit);
- ``mail``: the notification mail settings (MAIL-1 ... MAIL-5);
- ``supplementary``: subscribed services, nuisance list, Number Request,
  Voice Warp (CALL-2 ... CALL-4);
- ``temp_password``: what the temporary-password line needs (IVR-2 ... IVR-9);
- ``routing``: what the routing of an incoming call needs (CALL-1 ... CALL-4);
- ``caller_names``: the phonebook names of callers, many at once (BOOK-2);
- ``calls``: finished calls, their decisions and mails (MAIL-10);
- ``views``: a number as plain data.

Callers use the package (``from store import service``; ``service.add_line``).
"""

from __future__ import annotations

from store.service.caller_names import caller_names
from store.service.calls import (
    CallDecision,
    QueuedChat,
    QueuedMail,
    call_mail_key,
    chat_key,
    decided_linkedids,
    find_number,
    load_numbers,
    record_call_decision,
    record_call_decisions,
)
from store.service.devices import device_labels, name_device, unname_device
from store.service.lines import (
    ALL_SERVICES,
    add_line,
    add_number,
    get_line,
    get_number,
    held_numbers,
    list_lines,
    list_numbers,
    one_flush,
    remove_line,
    remove_number,
    set_auth_unit,
    update_number,
)
from store.service.mail import (
    add_address,
    add_designated,
    remove_address,
    remove_designated,
    set_address_send,
    set_addresses,
    set_conditions,
    set_designated_flag,
    set_designated_numbers,
    start_mail,
    stop_mail,
)
from store.service.routing import (
    LastCallerResult,
    RoutingSettings,
    add_last_caller_to_nuisance,
    route_incoming_call,
)
from store.service.supplementary import (
    add_nuisance,
    remove_nuisance,
    set_number_request,
    set_services,
    set_voice_warp,
)
from store.service.temp_password import (
    TEMP_PASSWORD_VALIDITY,
    CallerLine,
    HashedTempPassword,
    caller_line,
    hash_temp_password,
    set_temp_password,
    temp_password_targets,
)
from store.service.views import describe_number

__all__ = [
    "ALL_SERVICES",
    "TEMP_PASSWORD_VALIDITY",
    "CallDecision",
    "CallerLine",
    "HashedTempPassword",
    "LastCallerResult",
    "QueuedChat",
    "QueuedMail",
    "RoutingSettings",
    "add_address",
    "add_designated",
    "add_last_caller_to_nuisance",
    "add_line",
    "add_nuisance",
    "add_number",
    "call_mail_key",
    "caller_line",
    "caller_names",
    "chat_key",
    "decided_linkedids",
    "describe_number",
    "device_labels",
    "find_number",
    "get_line",
    "get_number",
    "hash_temp_password",
    "held_numbers",
    "list_lines",
    "list_numbers",
    "load_numbers",
    "name_device",
    "one_flush",
    "record_call_decision",
    "record_call_decisions",
    "remove_address",
    "remove_designated",
    "remove_line",
    "remove_nuisance",
    "remove_number",
    "route_incoming_call",
    "set_address_send",
    "set_addresses",
    "set_auth_unit",
    "set_conditions",
    "set_designated_flag",
    "set_designated_numbers",
    "set_number_request",
    "set_services",
    "set_temp_password",
    "set_voice_warp",
    "start_mail",
    "stop_mail",
    "temp_password_targets",
    "unname_device",
    "update_number",
]
