"""Render the shipped dialplan from the config (OPS-3).

``asterisk-conf/extensions_chakushin.conf`` is this module's output for
the default config (a test keeps them equal); an operator with other
access numbers or another FastAGI address runs ``chakushin dialplan render``.
Every name shared with the Python code comes from ``dialplan.variables``.
The settings come as ``DialplanSettings``, made by the composition root
(``chakushin.bootstrap``) from the configuration (issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass

from dialplan import variables as v
from dialplan.config import CallConfig, IvrConfig

SHIPPED_FILE = "extensions_chakushin.conf"
# Cause 88, incompatible destination: what a voice service answers a data call.
DATA_CALL_CAUSE = 88


@dataclass(frozen=True)
class DialplanSettings:
    """What the dialplan is rendered from: the FastAGI server's address, ``[ivr]``, ``[call]``."""

    agi_host: str
    agi_port: int
    ivr: IvrConfig
    call: CallConfig


def agi_url(settings: DialplanSettings, script: str) -> str:
    host = settings.agi_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: Asterisk on this box reaches loopback
    if ":" in host:
        host = f"[{host}]"
    return f"agi://{host}:{settings.agi_port}/{script}"


def render(settings: DialplanSettings) -> str:
    """The whole ``extensions_chakushin.conf`` (OPS-3)."""
    parts = (
        _header(),
        _temp_password(settings),
        _from_trunk(settings),
        _subscribers(settings),
        _features(settings),
    )
    return "\n".join(parts)


def _header() -> str:
    return f"""\
; chakushin: the Asterisk dialplan (OPS-3). Rendered by `chakushin dialplan
; render` from the config; do not edit by hand, render again. Install: copy
; to /etc/asterisk/, add
;     #include {SHIPPED_FILE}
; at the end of extensions.conf, then
; - in the context where calls from your subscribers arrive:
;     include => {v.CONTEXT_TEMP_PASSWORD_ACCESS}
;     include => {v.CONTEXT_FEATURES}
; - in the context where calls from your carrier trunk arrive:
;     include => {v.CONTEXT_FROM_TRUNK}
;   (it sends calls to subscriber numbers to {v.CONTEXT_SUBSCRIBERS}).
"""


def _temp_password(settings: DialplanSettings) -> str:
    sounds = settings.ivr.sounds_dir
    speech = " | ".join(
        f'"${{{v.TRANSFER_CAPABILITY}}}" = "{cap}"' for cap in v.SPEECH_CAPABILITIES
    )
    access = "\n".join(
        f"exten => {number},1,Goto({v.CONTEXT_TEMP_PASSWORD},s,1)"
        for number in settings.ivr.access_numbers
    )
    return f"""\
; --- The temporary-password line (仮パスワード設定, IVR-1 ... IVR-10) ---------

; IVR-1: the access numbers.
[{v.CONTEXT_TEMP_PASSWORD_ACCESS}]
{access}

[{v.CONTEXT_TEMP_PASSWORD}]
; IVR-2: only speech calls reach the IVR; data calls (データコネクト) are refused.
exten => s,1,NoOp(chakushin temporary password from ${{CALLERID(num)}})
 same => n,GotoIf($[{speech}]?speech)
 same => n,Hangup({DATA_CALL_CAUSE})
 same => n(speech),Answer()
 same => n,Set({v.TP_OUTCOME}=)
 same => n,AGI({agi_url(settings, v.SCRIPT_TEMP_PASSWORD)})
 ; Classic AGI instead of the FastAGI server (one process per call):
 ; same => n,AGI(chakushin-agi,{v.SCRIPT_TEMP_PASSWORD})
 same => n,GotoIf($["${{{v.TP_OUTCOME}}}" != ""]?done)
 same => n,GotoIf($["${{{v.AGISTATUS}}}" = "HANGUP"]?done)
 ; Fail path: the AGI server could not be reached or the session broke off.
 same => n,Playback({sounds}/tp-system-error)
 same => n(done),Hangup()
"""


def _from_trunk(settings: DialplanSettings) -> str:
    forms = v.CALLED_E164_FORMS + (
        (v.CALLED_E164_WITHOUT_PLUS,) if settings.call.e164_without_plus else ()
    )
    # After the country code: 9 or 10 digits, the first not 0 (as for caller IDs).
    e164 = "".join(
        f"exten => _{prefix}Z{'X' * digits},1,Goto({v.CONTEXT_SUBSCRIBERS},0${{EXTEN:{cut}}},1)\n"
        for prefix, cut in forms
        for digits in (8, 9)
    )
    shown = ", ".join(f"{prefix}..." for prefix, _ in forms)
    return f"""\
; --- Calls from the carrier trunk (CALL-1) --------------------------------------

; A called number in the national form goes on as it came; one in E.164
; ({shown}) goes on in the national form 0... . Anything else matches
; nothing here: Asterisk answers it 404.
[{v.CONTEXT_FROM_TRUNK}]
exten => _0X.,1,Goto({v.CONTEXT_SUBSCRIBERS},${{EXTEN}},1)
{e164}"""


def _ending(label: str) -> str:
    """CALL-4: how a call that dialled ends: with the Q.850 cause of the last
    leg's DIALSTATUS (v.HANGUP_CAUSES), which chan_pjsip answers the carrier
    as a SIP response; a phone that declined (HANGUPCAUSE 21) as busy."""
    status = '"${DIALSTATUS}"'
    declined = (
        f' same => n({label}),GotoIf($[{status} = "CHANUNAVAIL" & "${{{v.HANGUPCAUSE}}}" = '
        f'"{v.CAUSE_DECLINED}"]?{label}_{v.CAUSE_BUSY})\n'
    )
    tests = "".join(
        f' same => n,GotoIf($[{status} = "{dialstatus}"]?{label}_{cause})\n'
        for dialstatus, cause in v.HANGUP_CAUSES.items()
    )
    hangups = "".join(
        f" same => n({label}_{cause}),Hangup({cause})\n"
        for cause in sorted(set(v.HANGUP_CAUSES.values()))
    )
    return f"{declined}{tests} same => n,Hangup({v.CAUSE_NORMAL_CLEARING})\n{hangups}"


def _queue_ending(label: str) -> str:
    """Issue 17 (CALL-4): a queue the caller left unanswered ends as the phone
    status its QUEUESTATUS stands for (v.QUEUE_STATUS_AS_DIAL) would, at the
    Hangup() of ``_ending(label)``; any other status (CONTINUE) with 16."""
    tests = "".join(
        f' same => n,GotoIf($["${{{v.QUEUESTATUS_VAR}}}" = "{status}"]'
        f"?{label}_{v.HANGUP_CAUSES[dialstatus]})\n"
        for status, dialstatus in v.QUEUE_STATUS_AS_DIAL.items()
    )
    return f"{tests} same => n,Hangup({v.CAUSE_NORMAL_CLEARING})\n"


def _answered_by(candidate: str) -> str:
    """Issue 17 (MAIL-9): ANSWERED_BY = ``candidate`` when it is an interface as
    store.validation has it (v.INTERFACE_REGEX), else empty: a member added at
    run time or a dialled peer may hold commas that would add event fields."""
    test = f'"${{REGEX("{v.INTERFACE_REGEX}" ${{{v.ANSWERED_BY}}})}}" = "1"'
    return (
        f" same => n,Set({v.ANSWERED_BY}={candidate})\n"
        f" same => n,GotoIf($[{test}]?emit)\n"
        f" same => n,Set({v.ANSWERED_BY}=)\n"
        " same => n,Goto(emit)\n"
    )


def _subscribers(settings: DialplanSettings) -> str:
    sounds = settings.ivr.sounds_dir
    fallback = settings.call.fallback_endpoint.replace("{number}", "${EXTEN}")
    ring = settings.call.ring_seconds
    failed = " | ".join(f'"${{DIALSTATUS}}" = "{s}"' for s in v.FORWARD_FAILED_STATUSES)
    fields = ",".join(f"{name}: ${{{var}}}" for name, var in v.EVENT_FIELDS.items())
    on_noanswer = (
        f'"${{{v.FORWARD_ON}}}" = "{v.FORWARD_ON_NOANSWER}" & "${{DIALSTATUS}}" = "NOANSWER"'
    )
    on_busy = f'"${{{v.FORWARD_ON}}}" = "{v.FORWARD_ON_BUSY}" & "${{DIALSTATUS}}" = "BUSY"'
    queuestatus = f'"${{{v.QUEUESTATUS_VAR}}}"'
    queue_on_noanswer = (
        f'"${{{v.FORWARD_ON}}}" = "{v.FORWARD_ON_NOANSWER}" & {queuestatus} = "TIMEOUT"'
    )
    queue_on_busy = f'"${{{v.FORWARD_ON}}}" = "{v.FORWARD_ON_BUSY}" & {queuestatus} = "FULL"'
    queue_app = f"Queue(${{{v.QUEUE}}},{v.QUEUE_OPTIONS},,,${{{v.QUEUE_SECONDS}}})"
    not_answered_in_queue = (
        f'"${{{v.QUEUED}}}" != "1" | "${{{v.ABANDONED}}}" = "TRUE" | "${{{v.QUEUEPOSITION}}}" = ""'
    )
    not_presented = '${IF($["${CALLERID(pres):0:6}" = "prohib"]?withheld:unavailable)}'
    e164_forms = v.CALLER_E164_FORMS + (
        (v.CALLER_E164_WITHOUT_PLUS,) if settings.call.e164_without_plus else ()
    )
    # The E.164 forms jump to their own Set; anything else not a caller number ends here.
    caller_tests = "".join(
        f' same => n,GotoIf($["${{REGEX("{regex}" ${{CALLERID(num)}})}}" = "1"]?{label})\n'
        for label, regex, _ in e164_forms
    ) + (
        f' same => n,GotoIf($["${{REGEX("{v.CALLER_NUMBER_REGEX}" ${{CALLERID(num)}})}}" != "1"]'
        "?fallback)\n"
    )
    e164_sets = "".join(
        f" same => n({label}),Set({v.CALLER}=0${{CALLERID(num):{cut}}})\n"
        " same => n,Goto(presented)\n"
        for label, _, cut in e164_forms
    )
    payphone = " | ".join(f'"${{CALLERID(ani2)}}" = "{ani2}"' for ani2 in v.PAYPHONE_ANI2)
    leg_status = f'${{IF($["${{{v.DIALSTATUS}}}" = ""]?${{DIALSTATUS}}:${{{v.DIALSTATUS}}})}}'
    busy_or_unanswered = f'${{IF($["${{{v.DIALSTATUS}}}" = "BUSY"]?busy:unanswered)}}'
    outcome = f'${{IF($["${{{v.DIALSTATUS}}}" = "ANSWER"]?answered:{busy_or_unanswered})}}'
    return f"""\
; --- Calls to subscriber numbers (CALL-1 ... CALL-5) ---------------------------

; CALL-1: the routing AGI decides (nuisance list -> Number Request -> Voice
; Warp -> ring or queue) and sets {v.ACTION}; without it (unknown number,
; database or AGI server unavailable) the call waits in the number's queue
; or rings its endpoint as the routing AGI last stored them in AstDB
; ({v.ASTDB_QUEUE}/<number>, {v.ASTDB_ENDPOINT}/<number>), else
; {fallback}.
[{v.CONTEXT_SUBSCRIBERS}]
exten => _0X.,1,NoOp(chakushin call to ${{EXTEN}})
 same => n,Set({v.SUBSCRIBER}=${{EXTEN}})
 same => n,Set({v.START}=${{EPOCH}})
 same => n,Set(CHANNEL(hangup_handler_push)={v.CONTEXT_CALL_END},s,1)
 same => n,AGI({agi_url(settings, v.SCRIPT_ROUTE_CALL)},${{EXTEN}})
 same => n,GotoIf($["${{{v.ACTION}}}" = "{v.ACTION_RING}"]?ring)
 same => n,GotoIf($["${{{v.ACTION}}}" = "{v.ACTION_QUEUE}"]?queue)
 same => n,GotoIf($["${{{v.ACTION}}}" = "{v.ACTION_FORWARD}"]?forward)
 same => n,GotoIf($["${{{v.ACTION}}}" = "{v.ACTION_REJECT_NUISANCE}"]?reject_nuisance)
 same => n,GotoIf($["${{{v.ACTION}}}" = "{v.ACTION_REJECT_ANONYMOUS}"]?reject_anonymous)
 ; Fail path: ring the subscriber's phone as if nothing were configured.
 same => n,Set({v.ROUTE}=${{IF($["${{{v.ROUTE}}}" = ""]?agi_failed:${{{v.ROUTE}}})}})
 same => n,GotoIf($["${{{v.PRESENTATION}}}" != ""]?fallback)
 ; MAIL-9: the caller as the routing AGI gives it. CALLERID(num) goes in the
 ; event only when presented and a caller number; tested by REGEX() before
 ; any use, so that no comma, colon or control character of it is ever parsed.
 ; A Japanese E.164 caller (+81..., 0081...) goes in the national form 0...
 same => n,Set({v.CALLER}=)
 same => n,Set({v.PRESENTATION}={not_presented})
 same => n,GotoIf($[{payphone}]?payphone)
 same => n,GotoIf($["${{CALLERID(pres):0:7}}" != "allowed"]?fallback)
{caller_tests} same => n,Set({v.CALLER}=${{CALLERID(num)}})
 same => n,Goto(presented)
{e164_sets} same => n(presented),Set({v.PRESENTATION}=allowed)
 same => n,Goto(fallback)
 same => n(payphone),Set({v.PRESENTATION}=payphone)
 ; Issue 17: the number's queue, as the routing AGI last stored it; no
 ; Voice Warp here (the AGI did not say whether it is on).
 same => n(fallback),Set({v.QUEUE}=${{DB({v.ASTDB_QUEUE}/${{EXTEN}})}})
 same => n,GotoIf($["${{{v.QUEUE}}}" = ""]?fallback_endpoint)
 same => n,Set({v.QUEUE_SECONDS}={v.FALLBACK_QUEUE_SECONDS})
 same => n,Set({v.FORWARD_ON}=)
 same => n,Goto(queue)
 ; Issue 15: the number's own endpoint, as the routing AGI last stored it.
 same => n(fallback_endpoint),Set({v.FALLBACK_DIAL}=${{DB({v.ASTDB_ENDPOINT}/${{EXTEN}})}})
 same => n,GotoIf($["${{{v.FALLBACK_DIAL}}}" != ""]?fallback_dial)
 same => n,Set({v.FALLBACK_DIAL}={fallback})
 same => n(fallback_dial),Dial(${{{v.FALLBACK_DIAL}}},{ring})
 same => n,Set({v.DIALSTATUS}=${{DIALSTATUS}})
 same => n,Goto(end)
 ; CALL-2: the caller is on the nuisance list.
 same => n(reject_nuisance),Set({v.OUTCOME}=rejected_nuisance)
 same => n,Progress()
 same => n,Playback({sounds}/${{{v.REFUSAL}}},noanswer)
 same => n,Hangup()
 ; CALL-3: Number Request refuses a caller without a presented number.
 same => n(reject_anonymous),Set({v.OUTCOME}=rejected_anonymous)
 same => n,Progress()
 same => n,Playback({sounds}/${{{v.REFUSAL}}},noanswer)
 same => n,Hangup()
 ; CALL-4: ring the phone; Voice Warp forwards on no answer or busy.
 same => n(ring),Dial(${{{v.DIAL}}},${{{v.RING_SECONDS}}})
 same => n,Set({v.DIALSTATUS}=${{DIALSTATUS}})
 same => n,GotoIf($[{on_noanswer}]?forward)
 same => n,GotoIf($[{on_busy}]?forward)
 same => n,Goto(end)
 ; Issue 17 (CALL-1, CALL-4): wait in the number's queue (queues.conf). Queue()
 ; comes back only when the caller leaves unanswered by the queue's doing
 ; (${{{v.QUEUESTATUS_VAR}}} set): Voice Warp forwards a timeout as no answer and
 ; a full queue as busy; a queue with no member to ring is unreachable.
 same => n(queue),Set({v.QUEUED}=1)
 same => n,{queue_app}
 same => n,GotoIf($[{queue_on_noanswer}]?forward)
 same => n,GotoIf($[{queue_on_busy}]?forward)
{_queue_ending("end")}\
 ; CALL-4: Voice Warp (unconditional, or after the phone did not answer / was busy).
 same => n(forward),Set({v.FORWARDING}=1)
 same => n,Dial(${{{v.FORWARD_DIAL}}})
 ; Issue 15: the forward leg's cause and ring time tell a target that is
 ; switched off (480 at once) from one that rang out (the notifier decides).
 same => n,Set({v.FORWARD_CAUSE}=${{HANGUPCAUSE}})
 same => n,Set({v.FORWARD_RINGTIME}=${{RINGTIME}})
 ; Issue 15: every call that dialled ends with the cause of what happened
 ; (chan_pjsip: 17 -> 486 Busy Here, 19 and 20 -> 480 Temporarily
 ; Unavailable; a bare Hangup() answered 603 Decline, or 404 for a phone
 ; not registered).
{_ending("end")}
; CALL-5: the hangup handler of every call to a subscriber number. It runs
; however the call ends (the caller may hang up at any point) and publishes
; one UserEvent({v.EVENT_CALL}) with the outcome for the notifier, decided
; once per call however many phones rang (issue 17): answered when any phone
; or queue member answered, with who did ({v.ANSWERED_BY}).
[{v.CONTEXT_CALL_END}]
exten => s,1,Set({v.QUEUESTATUS}=${{{v.QUEUESTATUS_VAR}}})
 same => n,GotoIf($["${{{v.FORWARDING}}}" = "1"]?forwarded)
 same => n,Set({v.DIALSTATUS}={leg_status})
 same => n,GotoIf($["${{{v.OUTCOME}}}" != ""]?emit)
 same => n,GotoIf($["${{{v.QUEUE}}}" != ""]?queue)
 same => n,Set({v.OUTCOME}={outcome})
 same => n,GotoIf($["${{{v.OUTCOME}}}" != "answered"]?emit)
 ; The part of {v.DIAL} that answered: PJSIP/201, Local/desk@phones.
{_answered_by("${CUT(DIALEDPEERNAME,/,1)}/${DIALEDPEERNUMBER}")}\
 ; Issue 17: a queue sets {v.QUEUESTATUS_VAR} only when the caller left unanswered
 ; by the queue's doing (FULL: busy); else {v.ABANDONED} is TRUE when no member
 ; answered (the caller hung up), and a caller who never joined has no
 ; {v.QUEUEPOSITION}. {v.MEMBERINTERFACE}: queues.conf setinterfacevar.
 same => n(queue),Set({v.OUTCOME}=unanswered)
 same => n,GotoIf($["${{{v.QUEUESTATUS}}}" = "FULL"]?queue_busy)
 same => n,GotoIf($["${{{v.QUEUESTATUS}}}" != ""]?emit)
 same => n,GotoIf($[{not_answered_in_queue}]?emit)
 same => n,Set({v.OUTCOME}=answered)
{_answered_by(f"${{{v.MEMBERINTERFACE}}}")}\
 same => n(queue_busy),Set({v.OUTCOME}=busy)
 same => n,Goto(emit)
 same => n(forwarded),Set({v.FORWARD_DIALSTATUS}=${{DIALSTATUS}})
 same => n,Set({v.OUTCOME}=${{IF($[{failed}]?forward_failed:forwarded)}})
 same => n(emit),UserEvent({v.EVENT_CALL},{fields})
 same => n,Return()
"""


def _features(settings: DialplanSettings) -> str:
    sounds = settings.ivr.sounds_dir
    code = settings.call.nuisance_feature_code
    return f"""\
; --- Feature codes from subscribers' phones (CALL-2) -----------------------------

; {code}, then 2: put the last caller on this number's nuisance list.
[{v.CONTEXT_FEATURES}]
exten => {code},1,Answer()
 same => n,Set({v.FEATURE_OUTCOME}=)
 same => n,AGI({agi_url(settings, v.SCRIPT_NUISANCE_FEATURE)})
 same => n,GotoIf($["${{{v.FEATURE_OUTCOME}}}" != ""]?done)
 same => n,GotoIf($["${{{v.AGISTATUS}}}" = "HANGUP"]?done)
 same => n,Playback({sounds}/system-error)
 same => n(done),Hangup()
"""
