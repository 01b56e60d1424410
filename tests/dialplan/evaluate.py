"""A small evaluator of the rendered dialplan, enough to run one call to a subscriber number.

It follows Asterisk's order of work, which is what makes a raw caller ID
dangerous: the data of an application (and the arguments of a function)
are substituted first, on the unsubstituted text's ``${...}`` / ``$[...]``
nesting, and only then split on ``,`` / ``?`` / ``:`` by whoever reads
them. Supported: ``${VAR}``, ``${VAR:offset:length}``, ``${CALLERID(num|pres|ani2)}``,
``${REGEX("ere" string)}`` (POSIX: ``$`` matches only at the very end),
``${IF(cond?a:b)}``, ``${CUT(varname,delimiter,field)}`` (one field),
``${EPOCH}``, ``${EXTEN}``, ``${DB(family/key)}`` (the channel's AstDB);
``$[...]`` with quoted strings, ``=``, ``!=``, ``&`` and ``|``; the
applications NoOp, Set, Goto (a label, or ``context,exten,1`` matched by
Asterisk's pattern rules), GotoIf, AGI (which fails: sets nothing), Dial
(a status is given, and the variables it leaves, e.g. HANGUPCAUSE and
RINGTIME, or DIALEDPEERNAME and DIALEDPEERNUMBER of the leg that answered;
or per leg, ``legs``), Queue (issue 17: the variables it leaves are given,
``queue_result``; as app_queue does, it returns to the dialplan only with a
QUEUESTATUS, else the caller's channel hung up in the queue, answered or
not, and the dialplan stops), Answer, Progress, Playback,
Hangup (its cause kept), UserEvent, Return. Anything else raises, so a
change to the dialplan that this does not understand fails the test
instead of passing it by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class Unsupported(Exception):
    pass


class NoExtension(Exception):
    """No extension of the context matches: Asterisk answers the call 404 (cause 1)."""


Step = tuple[str, str, str]


class Dialplan(dict[str, list[Step]]):
    """Context -> its priorities in order, as (label, application, data); and where
    each extension of a context starts (its pattern, the index of its priority 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.extensions: dict[str, list[tuple[str, int]]] = {}


@dataclass
class Channel:
    callerid_num: str
    callerid_pres: str = "allowed_not_screened"
    callerid_ani2: str = "0"
    exten: str = "0312345678"
    dialstatus: str = "NOANSWER"
    dial_result: dict[str, str] = field(default_factory=dict)  # what Dial() leaves besides
    # (DIALSTATUS, HANGUPCAUSE) of each Dial() in turn, before dialstatus/dial_result.
    legs: list[tuple[str, str]] = field(default_factory=list)
    astdb: dict[str, str] = field(default_factory=dict)  # "family/key" -> value
    variables: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)  # (name, substituted body)
    dialled: list[str] = field(default_factory=list)  # each Dial()'s dial string
    # Issue 17: what Queue() leaves (QUEUESTATUS, ABANDONED, MEMBERINTERFACE), and
    # each Queue()'s data as substituted.
    queue_result: dict[str, str] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)
    left_in: str | None = None  # the application the caller's channel hung up in
    context: str = ""  # where the call is
    hangup: str | None = None  # Hangup()'s cause as given ("" for none)


def parse_contexts(text: str) -> Dialplan:
    """Context -> its priorities in order, as (label, application, data)."""
    contexts = Dialplan()
    current: list[Step] = []
    starts: list[tuple[str, int]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            current = contexts.setdefault(header[1], [])
            starts = contexts.extensions.setdefault(header[1], [])
            continue
        step = re.fullmatch(r"(?:exten => ([^,]+),1|same => n(?:\((\w+)\))?),(\w+)\((.*)\)", line)
        if step is None:
            raise Unsupported(line)
        if step[1] is not None:
            starts.append((step[1], len(current)))
        current.append((step[2] or "", step[3], step[4]))
    return contexts


_CLASSES = {"X": "0123456789", "Z": "123456789", "N": "23456789"}


def _pattern_parts(pattern: str) -> list[str]:
    """An extension pattern (after its _) as the characters each position may be;
    "." is one or more of anything, "!" zero or more."""
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            end = pattern.index("]", i)
            body, chars = pattern[i + 1 : end], set()
            for m in re.finditer(r"(.)-(.)|(.)", body):
                if m[3]:
                    chars.add(m[3])
                else:
                    chars |= {chr(c) for c in range(ord(m[1]), ord(m[2]) + 1)}
            parts.append("".join(sorted(chars)))
            i = end + 1
            continue
        parts.append(_CLASSES.get(char.upper(), char) if char not in ".!" else char)
        i += 1
    return parts


def _matches(parts: list[str], exten: str) -> bool:
    if not parts:
        return exten == ""
    head, rest = parts[0], parts[1:]
    if head == ".":
        return any(_matches(rest, exten[n:]) for n in range(1, len(exten) + 1))
    if head == "!":
        return any(_matches(rest, exten[n:]) for n in range(len(exten) + 1))
    return bool(exten) and exten[0] in head and _matches(rest, exten[1:])


def extension_start(contexts: Dialplan, context: str, exten: str) -> int:
    """Priority 1 of the extension of ``context`` that Asterisk picks for ``exten``:
    an exact name first, then the most specific matching pattern (position by
    position, the fewer characters a position allows the more specific)."""
    found: list[tuple[tuple[int, ...], int]] = []
    for name, start in contexts.extensions.get(context, []):
        if not name.startswith("_"):
            if name == exten:
                return start
            continue
        parts = _pattern_parts(name[1:])
        if _matches(parts, exten):
            widths = tuple(1000 if p == "." else 1001 if p == "!" else len(p) for p in parts)
            found.append((widths, start))
    if not found:
        raise NoExtension(f"{exten!r} in {context}")
    return min(found)[1]


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
    if name == "DB":
        return ch.astdb.get(args, "")
    if name == "CALLERID":
        return {"num": ch.callerid_num, "pres": ch.callerid_pres, "ani2": ch.callerid_ani2}[args]
    if name == "CUT":
        parts = args.split(",")
        if len(parts) != 3 or not parts[2].isdigit() or int(parts[2]) < 1:
            raise Unsupported(f"CUT({args})")
        varname, delimiter, number = parts
        return (ch.variables.get(varname, "").split(delimiter[:1] or "-") + [""] * int(number))[
            int(number) - 1
        ]
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


def run(contexts: Dialplan, context: str, ch: Channel, *, exten: str | None = None) -> None:
    """Run ``context`` until Hangup() or Return(): from its first priority, or
    from the extension that matches ``exten`` (a call arriving there)."""
    if exten is not None:
        ch.exten = exten
    steps = contexts[context]
    labels = {label: i for i, (label, _, _) in enumerate(steps) if label}
    i = 0 if exten is None else extension_start(contexts, context, exten)
    ch.context = context
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
        elif app == "Goto" and "," in data:
            target, exten_, priority = data.split(",")
            if priority != "1":
                raise Unsupported(f"Goto({data})")
            ch.exten, ch.context = exten_, target
            steps = contexts[target]
            labels = {label: n for n, (label, _, _) in enumerate(steps) if label}
            i = extension_start(contexts, target, exten_)
        elif app == "Goto":
            i = labels[data]
        elif app == "Dial":
            ch.dialled.append(data.split(",")[0])
            if ch.legs:
                status, cause = ch.legs.pop(0)
                ch.variables.update(DIALSTATUS=status, HANGUPCAUSE=cause)
            else:
                ch.variables["DIALSTATUS"] = ch.dialstatus
                ch.variables.update(ch.dial_result)
        elif app == "Queue":
            ch.queued.append(data)
            # app_queue sets QUEUEPOSITION when a caller who joined leaves the queue
            # (the recordings); a test gives it "" for a caller who never joined.
            ch.variables.update({"QUEUEPOSITION": "1", **ch.queue_result})
            if not ch.queue_result.get("QUEUESTATUS"):
                ch.left_in = app
                return
        elif app == "UserEvent":
            name, _, body = data.partition(",")
            ch.events.append((name, body))
        elif app == "Hangup":
            ch.hangup = data
            return
        elif app == "Return":
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
