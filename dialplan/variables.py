"""OPS-3: every name that the Python code and the Asterisk dialplan share.

The shipped dialplan (asterisk-conf/) is rendered from these constants by
``dialplan.render`` and a test checks that it uses no other CHAKUSHIN_ name,
so a name is typed once, here.
"""

from __future__ import annotations

# --- FastAGI scripts (the path of agi://host:port/<script>) -----------------------
SCRIPT_TEMP_PASSWORD = "temp-password"

# --- dialplan contexts -------------------------------------------------------------
# Include this context where calls from subscribers arrive; it holds the
# temporary-password access numbers (IVR-1).
CONTEXT_TEMP_PASSWORD_ACCESS = "chakushin-temp-password-access"
# The temporary-password line itself (speech check, AGI, fail path).
CONTEXT_TEMP_PASSWORD = "chakushin-temp-password"

# --- channel variables ----------------------------------------------------------------
# Set by the temporary-password flow before it returns: one of
# agi.temp_password.Outcome (completed, too_many_errors, caller_hangup,
# not_subscriber, system_error).
TP_OUTCOME = "CHAKUSHIN_TP_OUTCOME"

# --- Asterisk's own names that the code reads ----------------------------------------
# res_agi sets AGISTATUS to SUCCESS, FAILURE, NOTFOUND or HANGUP.
AGISTATUS = "AGISTATUS"
# Bearer capability of the call; only speech may reach the IVR (IVR-2).
TRANSFER_CAPABILITY = "CHANNEL(transfercapability)"
SPEECH_CAPABILITIES = ("SPEECH", "3K1AUDIO")
