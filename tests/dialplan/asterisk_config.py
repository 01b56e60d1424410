"""Asterisk's configuration file syntax, as far as the shipped PJSIP files use it (issue 15).

What ``main/config.c`` reads, in the parts a pjsip.conf uses:

- ``[name]`` starts a section; ``[name](!)`` a template (never loaded as an
  object); ``[name](tmpl1,tmpl2)`` or ``[name](!,tmpl)`` inherits the
  options of earlier sections (templates, usually), in order, before its own;
- ``key = value`` (also ``key => value``); a key may repeat (``allow``,
  ``contact``, ``match``, ``set_var``), so options are a list of pairs;
- ``;`` starts a comment (``\\;`` is a literal semicolon); ``;--`` … ``--;``
  is a block comment;
- ``#include file`` / ``#tryinclude file`` read another file (relative to
  this one) in place.

``uncommented`` turns the commented-out configuration of a sample (a ``;``
followed directly by ``[`` or by ``key =``, as in ``;[pstn]`` and
``;type = registration``) into live lines, so that the options an operator
is told to uncomment are checked too; prose comments (``; Calls from…``,
with a space) stay comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_HEADER = re.compile(r"\[(?P<name>[^\]]+)\](?:\((?P<opts>[^)]*)\))?$")
_OPTION = re.compile(r"(?P<key>[A-Za-z0-9_.+-]+)\s*=>?\s*(?P<value>.*)$")
_COMMENTED_CONFIG = re.compile(r"^;(?=\[|[A-Za-z0-9_]+\s*=)")


class ConfigSyntaxError(ValueError):
    """A line Asterisk would not read as a section, an option, a comment or a directive."""


@dataclass
class Section:
    name: str
    file: str
    line: int
    template: bool = False
    inherits: tuple[str, ...] = ()
    own: list[tuple[str, str]] = field(default_factory=list)
    # Own options after the inherited ones, as Asterisk applies them.
    options: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        """The last value of ``key`` (a later line overrides an earlier one)."""
        values = [value for name, value in self.options if name == key]
        return values[-1] if values else None

    def values(self, key: str) -> list[str]:
        return [value for name, value in self.options if name == key]

    @property
    def type(self) -> str | None:
        return self.get("type")


def _strip_comment(line: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if char == ";":
            break
        out.append(char)
        i += 1
    return "".join(out).strip()


def uncommented(text: str) -> str:
    """``text`` with its commented-out sections and options made live (see the module doc)."""
    return "\n".join(_COMMENTED_CONFIG.sub("", line) for line in text.splitlines())


def parse(text: str, *, file: str = "<text>", base: Path | None = None) -> list[Section]:
    """Every section of ``text`` (and of the files it includes), templates resolved."""
    sections: list[Section] = []
    _read(text, file, base, sections, depth=0)
    by_name: dict[str, Section] = {}
    for section in sections:
        inherited: list[tuple[str, str]] = []
        for parent in section.inherits:
            if parent not in by_name:
                raise ConfigSyntaxError(
                    f"{section.file}:{section.line}: [{section.name}] inherits {parent!r}, "
                    "which is no earlier section"
                )
            inherited.extend(by_name[parent].options)
        section.options = inherited + section.own
        # Asterisk takes the first earlier section of that name (a template, usually).
        by_name.setdefault(section.name, section)
    return sections


def _read(text: str, file: str, base: Path | None, sections: list[Section], *, depth: int) -> None:
    if depth > 10:
        raise ConfigSyntaxError(f"{file}: #include nested too deep")
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if in_block:
            if "--;" not in line:
                continue
            line = line.split("--;", 1)[1]
            in_block = False
        if ";--" in line:
            before, _, after = line.partition(";--")
            if "--;" in after:
                line = before + after.split("--;", 1)[1]
            else:
                line, in_block = before, True
        line = _strip_comment(line)
        if not line:
            continue
        where = f"{file}:{number}"
        if line.startswith("#"):
            directive, _, argument = line.partition(" ")
            if directive not in ("#include", "#tryinclude"):
                raise ConfigSyntaxError(f"{where}: unknown directive {directive}")
            target = argument.strip().strip('"<>')
            path = (base or Path(".")) / target
            if not path.is_file():
                if directive == "#tryinclude":
                    continue
                raise ConfigSyntaxError(f"{where}: #include {target}: no such file")
            included = path.read_text(encoding="utf-8")
            _read(included, str(path), path.parent, sections, depth=depth + 1)
            continue
        header = _HEADER.match(line)
        if header:
            opts = [o.strip() for o in (header["opts"] or "").split(",") if o.strip()]
            if header["opts"] is not None and not opts:
                raise ConfigSyntaxError(f"{where}: empty template list")
            template = "!" in opts
            sections.append(
                Section(
                    name=header["name"].strip(),
                    file=file,
                    line=number,
                    template=template,
                    inherits=tuple(o for o in opts if o not in ("!", "+")),
                )
            )
            continue
        option = _OPTION.match(line)
        if option is None:
            raise ConfigSyntaxError(f"{where}: not a section, option or directive: {raw!r}")
        if not sections:
            raise ConfigSyntaxError(f"{where}: option before any section")
        sections[-1].own.append((option["key"], option["value"].strip()))
    if in_block:
        raise ConfigSyntaxError(f"{file}: block comment ;-- never closed")


def parse_file(path: Path, *, live_comments: bool = False) -> list[Section]:
    """The sections of a shipped file; ``live_comments``: its commented-out config too."""
    text = path.read_text(encoding="utf-8")
    if live_comments:
        text = uncommented(text)
    return parse(text, file=str(path), base=path.parent)
