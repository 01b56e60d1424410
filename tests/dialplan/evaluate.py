"""A small evaluator of the rendered dialplan, enough to run one call's fail path.

It follows Asterisk's order of work, which is what makes a raw caller ID
dangerous: the data of an application (and the arguments of a function)
are substituted first, on the unsubstituted text's ``${...}`` / ``$[...]``
nesting, and only then split on ``,`` / ``?`` / ``:`` by whoever reads
them. Supported: ``${VAR}``, ``${VAR:offset:length}``, ``${CALLERID(num|pres|ani2)}``,
``${REGEX("ere" string)}`` (POSIX: ``$`` matches only at the very end),
``${IF(cond?a:b)}``, ``${EPOCH}``, ``${EXTEN}``; ``$[...]`` with quoted
strings, ``=``, ``!=``, ``&`` and ``|``; the applications NoOp, Set, Goto,
GotoIf, AGI (which fails: sets nothing), Dial (a status is given), Answer,
Progress, Playback, Hangup, UserEvent, Return. Anything else raises, so a
change to the dialplan that this does not understand fails the test
instead of passing it by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class Unsupported(Exception):
    pass


@dataclass
class Channel:
    callerid_num: str
    callerid_pres: str = "allowed_not_screened"
    callerid_ani2: str = "0"
    exten: str = "0312345678"
    dialstatus: str = "NOANSWER"
    variables: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)  # (name, substituted body)


def parse_contexts(text: str) -> dict[str, list[tuple[str, str, str]]]:
    """Context -> its priorities in order, as (label, application, data)."""
    contexts: dict[str, list[tuple[str, str, str]]] = {}
    current: list[tuple[str, str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            current = contexts.setdefault(header[1], [])
            continue
        step = re.fullmatch(r"(?:exten => [^,]+,1|same => n(?:\((\w+)\))?),(\w+)\((.*)\)", line)
        if step is None:
            raise Unsupported(line)
        current.append((step[1] or "", step[2], step[3]))
    return contexts


def _closing(text: str, start: int, opening: str, closing: str) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return i
    raise Unsupported(f"unbalanced {opening} in {text!r}")


def substitute(text: str, ch: Channel) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            end = _closing(text, i + 1, "{", "}")
            out.append(_value(substitute(text[i + 2 : end], ch), ch))
            i = end + 1
        elif text.startswith("$[", i):
            end = _closing(text, i + 1, "[", "]")
            out.append(expression(substitute(text[i + 2 : end], ch)))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _value(inner: str, ch: Channel) -> str:
    call = re.match(r"([A-Z]+)\(", inner)
    if call:
        close = inner.rindex(")")  # Asterisk: the function's arguments end at the last ')'
        value = _function(call[1], inner[call.end() : close], ch)
        rest = inner[close + 1 :]
    else:
        name, _, rest = inner.partition(":")
        rest = ":" + rest if rest else ""
        value = {"EPOCH": "1700000000", "EXTEN": ch.exten}.get(name, ch.variables.get(name, ""))
    if rest:
        parts = rest.split(":")[1:]
        offset = int(parts[0] or 0)
        value = value[offset : offset + int(parts[1])] if len(parts) > 1 else value[offset:]
    return value


def _function(name: str, args: str, ch: Channel) -> str:
    if name == "CALLERID":
        return {"num": ch.callerid_num, "pres": ch.callerid_pres, "ani2": ch.callerid_ani2}[args]
    if name == "IF":
        condition, _, branches = args.partition("?")
        yes, _, no = branches.partition(":")
        return yes if checkcondition(condition) else no
    if name == "REGEX":
        parts = args.split('"', 2)  # AST_NONSTANDARD_APP_ARGS(args, parse, '"'): 3 at most
        if len(parts) != 3:
            return ""  # Asterisk logs an error and the function reads as empty
        pattern, string = parts[1], parts[2]
        if string[:1] in (" ", "\t"):
            string = string[1:]
        # POSIX ERE without REG_NEWLINE: '$' is the end of the string only.
        python = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
        return "1" if re.search(python, string) else "0"
    raise Unsupported(f"function {name}")


def expression(text: str) -> str:
    tokens = re.findall(r'"[^"]*"|!=|[=&|]|[^\s"=!&|]+', text)
    if "".join(tokens).replace(" ", "") != re.sub(r"\s", "", text):
        raise Unsupported(f"expression {text!r}")

    def term(token: str) -> str:
        return token[1:-1] if token.startswith('"') else token

    def disjunction(parts: list[str]) -> bool:
        return any(conjunction(p) for p in _split(parts, "|"))

    def conjunction(parts: list[str]) -> bool:
        return all(comparison(p) for p in _split(parts, "&"))

    def comparison(parts: list[str]) -> bool:
        if len(parts) != 3 or parts[1] not in ("=", "!="):
            raise Unsupported(f"expression {text!r}")
        equal = term(parts[0]) == term(parts[2])
        return equal if parts[1] == "=" else not equal

    return "1" if disjunction(tokens) else "0"


def _split(tokens: list[str], operator: str) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token == operator:
            groups.append([])
        else:
            groups[-1].append(token)
    return groups


def checkcondition(value: str) -> bool:
    """pbx_checkcondition: empty and 0 are false, anything else true."""
    value = value.strip()
    if not value:
        return False
    return not (re.fullmatch(r"-?\d+", value) and int(value) == 0)


def run(contexts: dict[str, list[tuple[str, str, str]]], context: str, ch: Channel) -> None:
    """Run ``context`` from its first priority until Hangup() or Return()."""
    steps = contexts[context]
    labels = {label: i for i, (label, _, _) in enumerate(steps) if label}
    i = 0
    for _ in range(1000):
        _label, app, raw = steps[i]
        data = substitute(raw, ch)
        i += 1
        if app == "Set":
            name, _, value = data.partition("=")
            if "(" not in name:  # CHANNEL(hangup_handler_push)=...: not a variable
                ch.variables[name] = value
        elif app == "GotoIf":
            condition, _, targets = data.partition("?")
            yes, _, no = targets.partition(":")
            target = yes if checkcondition(condition) else no
            if target:
                i = labels[target]
        elif app == "Goto":
            i = labels[data]
        elif app == "Dial":
            ch.variables["DIALSTATUS"] = ch.dialstatus
        elif app == "UserEvent":
            name, _, body = data.partition(",")
            ch.events.append((name, body))
        elif app in ("Hangup", "Return"):
            return
        elif app not in ("NoOp", "AGI", "Answer", "Progress", "Playback"):
            raise Unsupported(f"application {app}")
    raise Unsupported(f"no end in {context}")


def user_event_fields(body: str) -> list[tuple[str, str]]:
    """UserEvent's headers as Asterisk splits them: on every comma, then on ': '."""
    fields = []
    for part in body.split(","):
        name, _, value = part.partition(": ")
        fields.append((name, value))
    return fields
