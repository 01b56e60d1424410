"""OPS-3: every name that the Python code and the Asterisk dialplan share.

The shipped dialplan (asterisk-conf/) is rendered from these constants by
``dialplan.render`` and a test checks that it uses no other CHAKUSHIN_ name
and no other event field, so a name is typed once, here.
"""

from __future__ import annotations

from store.models import CallOutcome

# --- FastAGI scripts (the path of agi://host:port/<script>) -----------------------
SCRIPT_TEMP_PASSWORD = "temp-password"
# CALL-1: decides how a call to a subscriber number is handled. Argument 1:
# the subscriber number.
SCRIPT_ROUTE_CALL = "route-call"
# CALL-2: the feature code that adds the last caller to the nuisance list.
SCRIPT_NUISANCE_FEATURE = "nuisance-last-caller"

# --- dialplan contexts -------------------------------------------------------------
# Include where calls from subscribers arrive: the temporary-password
# access numbers (IVR-1).
CONTEXT_TEMP_PASSWORD_ACCESS = "chakushin-temp-password-access"
# The temporary-password line itself (speech check, AGI, fail path).
CONTEXT_TEMP_PASSWORD = "chakushin-temp-password"
# Send calls to subscriber numbers here (CALL-1).
CONTEXT_SUBSCRIBERS = "chakushin-subscribers"
# Issue 15: include in the carrier trunk's context: reads a called number sent
# in E.164 (CALLED_E164_FORMS) in the national form, then CONTEXT_SUBSCRIBERS.
CONTEXT_FROM_TRUNK = "chakushin-from-trunk"
# Hangup handler of every call to a subscriber number: publishes EVENT_CALL.
CONTEXT_CALL_END = "chakushin-call-end"
# Include where subscribers' own phones dial out: the feature codes (CALL-2).
CONTEXT_FEATURES = "chakushin-features"

# --- channel variables: temporary-password line ------------------------------------
# Set by the temporary-password flow before it returns: one of
# agi.temp_password.Outcome (completed, too_many_errors, caller_hangup,
# not_subscriber, system_error).
TP_OUTCOME = "CHAKUSHIN_TP_OUTCOME"

# --- channel variables: calls to subscriber numbers (CALL-1 ... CALL-5) ------------
# Set by the dialplan before the routing AGI:
SUBSCRIBER = "CHAKUSHIN_SUBSCRIBER"  # the called subscriber number
START = "CHAKUSHIN_START"  # call start, Unix time (${EPOCH})
# Set by the routing AGI (agi.call_route):
# ring | queue | forward | reject_nuisance | reject_anonymous; unset: fail path
ACTION = "CHAKUSHIN_ACTION"
# Issue 17: one device (PJSIP/201) or several rung at once (PJSIP/201&PJSIP/202&Local/...)
DIAL = "CHAKUSHIN_DIAL"  # dial string of the subscriber's phone(s)
RING_SECONDS = "CHAKUSHIN_RING_SECONDS"  # Dial() timeout of the subscriber's phone
FORWARD_DIAL = "CHAKUSHIN_FORWARD_DIAL"  # dial string of the Voice Warp destination
FORWARD_ON = "CHAKUSHIN_FORWARD_ON"  # never | noanswer | busy (unconditional: ACTION=forward)
REFUSAL = "CHAKUSHIN_REFUSAL"  # prompt id played to a refused caller
# Issue 17 (ACTION queue): the Asterisk queue (queues.conf) the call waits in,
# and Queue()'s timeout in seconds (the Voice Warp ring time when it forwards
# on no answer). Empty for any other action.
QUEUE = "CHAKUSHIN_QUEUE"
QUEUE_SECONDS = "CHAKUSHIN_QUEUE_SECONDS"
PRESENTATION = "CHAKUSHIN_PRESENTATION"  # allowed | withheld | payphone | unavailable
CALLER = "CHAKUSHIN_CALLER"  # the caller's number when presented, else empty
ROUTE = "CHAKUSHIN_ROUTE"  # decided | unknown_number | store_unavailable | agi_failed
# Set by the dialplan as the call goes:
FORWARDING = "CHAKUSHIN_FORWARDING"  # 1 once the call is forwarded
DIALSTATUS = "CHAKUSHIN_DIALSTATUS"  # DIALSTATUS of the subscriber's phone
FORWARD_DIALSTATUS = "CHAKUSHIN_FORWARD_DIALSTATUS"  # DIALSTATUS of the forward leg
FALLBACK_DIAL = "CHAKUSHIN_FALLBACK_DIAL"  # what the fail path dials (ASTDB_ENDPOINT)
# Issue 15 (CALL-5): right after the forward Dial, its ${HANGUPCAUSE} (the
# forward leg's Q.850 cause, which Dial copies to the caller's channel; a
# carrier's Reason: Q.850;cause=N header sets it) and ${RINGTIME} (seconds to
# the first 180 Ringing, empty if none came). Empty when the caller hung up first.
FORWARD_CAUSE = "CHAKUSHIN_FORWARD_CAUSE"
FORWARD_RINGTIME = "CHAKUSHIN_FORWARD_RINGTIME"
OUTCOME = "CHAKUSHIN_OUTCOME"  # one of OUTCOMES, final in the hangup handler
# Issue 17, set by the dialplan: 1 right before Queue() (the call reached the
# queue); ${QUEUESTATUS} as the hangup handler saw it (empty: the caller
# left the queue by an answer or by hanging up; ABANDONED tells which); and
# who answered: for a ring, ${CUT(DIALEDPEERNAME,/,1)}/${DIALEDPEERNUMBER}
# of the answered leg (PJSIP/201, Local/desk@phones: the part of CHAKUSHIN_DIAL
# that answered); for a queue ${MEMBERINTERFACE}, which app_queue sets only
# with setinterfacevar = yes (else the notifier reads the AMI AgentConnect).
QUEUED = "CHAKUSHIN_QUEUED"
QUEUESTATUS = "CHAKUSHIN_QUEUESTATUS"
ANSWERED_BY = "CHAKUSHIN_ANSWERED_BY"

# ACTION values
ACTION_RING = "ring"
ACTION_QUEUE = "queue"  # issue 17: Queue(CHAKUSHIN_QUEUE) instead of Dial()
ACTION_FORWARD = "forward"
ACTION_REJECT_NUISANCE = "reject_nuisance"
ACTION_REJECT_ANONYMOUS = "reject_anonymous"
ACTIONS = (
    ACTION_RING,
    ACTION_QUEUE,
    ACTION_FORWARD,
    ACTION_REJECT_NUISANCE,
    ACTION_REJECT_ANONYMOUS,
)
# FORWARD_ON values
FORWARD_NEVER = "never"
FORWARD_ON_NOANSWER = "noanswer"
FORWARD_ON_BUSY = "busy"
# CALL-5 outcomes the dialplan reports: store.models.CallOutcome less
# "expired", which only the notifier gives (a call whose event never came).
OUTCOMES = tuple(o.value for o in CallOutcome if o is not CallOutcome.EXPIRED)

# MAIL-9 on the fail path: the dialplan puts CALLERID(num) in CALLER only when it
# matches this, the caller-number rule of store.validation.diallable_number (0
# and 9 to 17 more digits; a test keeps the two equal), as a POSIX ERE for
# REGEX(). Anything else (too long, control characters, commas that would add
# event fields, "anonymous") is sent empty, with presentation unavailable.
CALLER_NUMBER_REGEX = "^0[0-9]{9,17}$"
# Issue 14 (CALL-2, MAIL-5, MAIL-9): the Japanese E.164 forms the fail path
# reads in the national form, as store.caller_number does for the routing AGI
# (a test keeps them equal): (label, REGEX, characters before the national
# significant number, which the dialplan replaces with 0). The form without
# + only with call.e164_without_plus.
CALLER_E164_FORMS = (
    ("e164", "^[+]81[1-9][0-9]{8,9}$", 3),
    ("e164_00", "^0081[1-9][0-9]{8,9}$", 4),
)
CALLER_E164_WITHOUT_PLUS = ("e164_81", "^81[1-9][0-9]{8,9}$", 2)
# ANI II of payphones (27: coin line with network controls, 70: with
# customer-premises controls): Presentation payphone, in agi.caller and on the
# fail path.
PAYPHONE_ANI2 = ("27", "70")

# Issue 15: the called number as a trunk may send it, read in the national form
# by CONTEXT_FROM_TRUNK: (prefix, characters the dialplan replaces with 0). As
# for caller IDs, 9 or 10 digits not starting with 0 must follow; the form
# without + only with call.e164_without_plus. A national number (0...) goes
# on as it came.
CALLED_E164_FORMS = (("+81", 3), ("0081", 4))
CALLED_E164_WITHOUT_PLUS = ("81", 2)

# Issue 15 (CALL-1 fail path): the AstDB family where the routing AGI stores the
# dial string of each subscriber number it routes (key: the number; DATABASE
# PUT); it deletes the key of a number the store does not know. The fail path
# reads ${DB(chakushin/endpoint/${EXTEN})} and dials it, else the fallback.
ASTDB_ENDPOINT = "chakushin/endpoint"
# Issue 17: likewise the queue of a number sent to a queue (key: the number;
# the endpoint key is then removed, and this one for a number of devices).
# The fail path reads ${DB(chakushin/queue/${EXTEN})} first and, when set,
# runs Queue() on it for FALLBACK_QUEUE_SECONDS.
ASTDB_QUEUE = "chakushin/queue"
FALLBACK_QUEUE_SECONDS = 30

# Issue 15 (CALL-4): the Q.850 cause a call to a subscriber number ends with,
# by the DIALSTATUS of the last leg dialled; chan_pjsip answers the carrier
# 19, 20 -> 480 Temporarily Unavailable, 17 -> 486 Busy Here. A phone that
# declined the call (HANGUPCAUSE 21, its 603/403; DIALSTATUS CHANUNAVAIL) ends
# as busy. Any other status (ANSWER, ...) ends with 16, normal clearing.
CAUSE_BUSY = 17
CAUSE_NO_ANSWER = 19
CAUSE_SUBSCRIBER_ABSENT = 20
CAUSE_NORMAL_CLEARING = 16
CAUSE_DECLINED = 21
HANGUP_CAUSES = {
    "BUSY": CAUSE_BUSY,
    "NOANSWER": CAUSE_NO_ANSWER,
    "CHANUNAVAIL": CAUSE_SUBSCRIBER_ABSENT,
    "CONGESTION": CAUSE_SUBSCRIBER_ABSENT,
}

# --- the AMI event published at the end of every call (CALL-5) ----------------------
# UserEvent(ChakushinCall, ...) from the hangup handler. Asterisk adds the
# channel's own headers (Channel, Uniqueid, Linkedid, CallerIDNum, ...);
# these are the body fields the notifier reads.
EVENT_CALL = "ChakushinCall"
EVENT_FIELDS = {
    "Subscriber": SUBSCRIBER,
    "Caller": CALLER,
    "Presentation": PRESENTATION,
    "Start": START,
    "Outcome": OUTCOME,
    "DialStatus": DIALSTATUS,
    "ForwardDialStatus": FORWARD_DIALSTATUS,
    "ForwardCause": FORWARD_CAUSE,
    "ForwardRingTime": FORWARD_RINGTIME,
    "Route": ROUTE,
    # Issue 17
    "Queue": QUEUE,
    "QueueStatus": QUEUESTATUS,
    "AnsweredBy": ANSWERED_BY,
}

# --- Issue 17: what app_queue reports (recorded: ../shared/ami-traces/queue_*.ami) ---
# Queue() sets QUEUESTATUS only when the caller leaves unanswered by the
# queue's own doing; ABANDONED is TRUE when no member answered (the caller
# hung up, or the timeout ran out). A call that reached Queue() with neither
# was answered by a member.
QUEUESTATUS_VAR = "QUEUESTATUS"
ABANDONED = "ABANDONED"
# Set by app_queue when a caller who joined the queue leaves it (answered or
# not: all three queue recordings). Without it, neither an empty QUEUESTATUS
# nor a missing ABANDONED means an answer: the caller never joined, or
# Queue() never ran (app_queue not loaded).
QUEUEPOSITION = "QUEUEPOSITION"
MEMBERINTERFACE = "MEMBERINTERFACE"
# How each QUEUESTATUS counts, as the DIALSTATUS of a phone would: TIMEOUT is
# a ring time that ran out (unanswered; Voice Warp on no answer forwards;
# cause 19), FULL a busy phone (busy; Voice Warp on busy forwards; cause 17),
# a queue with no member to ring an unreachable phone (unanswered; cause 20).
QUEUE_STATUS_AS_DIAL = {
    "TIMEOUT": "NOANSWER",
    "FULL": "BUSY",
    "JOINEMPTY": "CHANUNAVAIL",
    "LEAVEEMPTY": "CHANUNAVAIL",
    "JOINUNAVAIL": "CHANUNAVAIL",
    "LEAVEUNAVAIL": "CHANUNAVAIL",
    # app_queue's answer for a queue that queues.conf does not define; a caller
    # withdrawn by QueueWithdrawCaller; CONTINUE (option c, which we do not
    # give): nobody took the call.
    "UNKNOWN": "CHANUNAVAIL",
    "WITHDRAW": "CHANUNAVAIL",
    "CONTINUE": "CHANUNAVAIL",
}
# Queue() option r: the caller hears ringing while members are rung, and the
# call is answered only when a member answers (as Dial() does).
QUEUE_OPTIONS = "r"
# Issue 17 (MAIL-9): the hangup handler puts who answered in ANSWERED_BY only
# when it matches this, the interface rule of store.validation.interface (a
# test keeps the two equal), as a POSIX ERE for REGEX(): a member interface
# added at run time (AddQueueMember, AMI QueueAdd) or a dialled peer may hold
# commas that would add event fields, or control characters.
INTERFACE_REGEX = "^[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9._@:+#/-]{1,83}$"

# --- channel variables: feature codes ---------------------------------------------------
# Set by the nuisance feature flow: one of agi.nuisance_feature.Outcome.
FEATURE_OUTCOME = "CHAKUSHIN_FEATURE_OUTCOME"

# --- Asterisk's own names that the code reads ----------------------------------------
# res_agi sets AGISTATUS to SUCCESS, FAILURE, NOTFOUND or HANGUP.
AGISTATUS = "AGISTATUS"
# The cause of the called leg after Dial() (the channel's hangup cause).
HANGUPCAUSE = "HANGUPCAUSE"
# Bearer capability of the call; only speech may reach the IVR (IVR-2).
TRANSFER_CAPABILITY = "CHANNEL(transfercapability)"
SPEECH_CAPABILITIES = ("SPEECH", "3K1AUDIO")
# Dial statuses after which a Voice Warp forward failed (MAIL-8).
FORWARD_FAILED_STATUSES = ("BUSY", "CONGESTION", "CHANUNAVAIL")
# Issue 15 (CALL-5, MAIL-8): Q.850 causes of a forward leg whose Dial ended
# NOANSWER that still make the forward failed (the notifier reads them,
# notifier.ami): the target is unreachable (1 unallocated number, 3 no route,
# 20 subscriber absent, 27 destination out of order, 34 no circuit, 38 network
# out of order, 41 temporary failure, 42 switching equipment congestion) ...
FORWARD_FAILED_CAUSES = (1, 3, 20, 27, 34, 38, 41, 42)
# ... or it never rang: 18 no user responding (408), 19 no answer (a bare 480)
# with no 180 Ringing before. After ringing they are the carrier's own ring
# timer: the target did not answer, the call was forwarded.
FORWARD_FAILED_UNRUNG_CAUSES = (18, 19)
