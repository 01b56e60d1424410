"""Render the shipped dialplan from the config (OPS-3).

``asterisk-conf/extensions_chakushin.conf`` is this module's output for
the default config (a test keeps them equal); an operator with other
access numbers or another FastAGI address runs ``chakushin dialplan render``.
Every name shared with the Python code comes from ``dialplan.variables``.
"""

from __future__ import annotations

from chakushin.config import Config
from dialplan import variables as v

SHIPPED_FILE = "extensions_chakushin.conf"
# Cause 88, incompatible destination: what a voice service answers a data call.
DATA_CALL_CAUSE = 88


def agi_url(config: Config, script: str) -> str:
    host = config.agi.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: Asterisk on this box reaches loopback
    if ":" in host:
        host = f"[{host}]"
    return f"agi://{host}:{config.agi.port}/{script}"


def render(config: Config) -> str:
    sounds = config.ivr.sounds_dir
    speech = " | ".join(
        f'"${{{v.TRANSFER_CAPABILITY}}}" = "{cap}"' for cap in v.SPEECH_CAPABILITIES
    )
    access = "\n".join(
        f"exten => {number},1,Goto({v.CONTEXT_TEMP_PASSWORD},s,1)"
        for number in config.ivr.access_numbers
    )
    return f"""\
; chakushin: the temporary-password line (仮パスワード設定, IVR-1 ... IVR-10).
; Rendered by `chakushin dialplan render` from the config; do not edit by
; hand, render again. Install: copy to /etc/asterisk/, add
;     #include {SHIPPED_FILE}
; at the end of extensions.conf, and in the context where calls from your
; subscribers arrive:
;     include => {v.CONTEXT_TEMP_PASSWORD_ACCESS}

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
 same => n,AGI({agi_url(config, v.SCRIPT_TEMP_PASSWORD)})
 ; Classic AGI instead of the FastAGI server (one process per call):
 ; same => n,AGI(chakushin-agi,{v.SCRIPT_TEMP_PASSWORD})
 same => n,GotoIf($["${{{v.TP_OUTCOME}}}" != ""]?done)
 same => n,GotoIf($["${{{v.AGISTATUS}}}" = "HANGUP"]?done)
 ; Fail path: the AGI server could not be reached or the session broke off.
 same => n,Playback({sounds}/tp-system-error)
 same => n(done),Hangup()
"""
