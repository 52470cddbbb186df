"""JSON from strangers, checked before it is decoded: the one set of rules every service applies.

Why a check before ``json.loads``:

- **The C decoder can crash the process.** It recurses once per level of nesting, guarded only by
  the interpreter's recursion limit, and ``py_ecc`` (imported by eth-account) raises that limit to
  100,000 on import. A body of ``[[[[...`` 80,000 deep then overflows the C stack: a segfault, no
  exception to catch. (``api.json_input`` also clamps the limit back; this bound does not rely on it.)
- **Python accepts what JSON does not, and what cannot travel back out.** ``NaN`` and ``Infinity``
  are not JSON (RFC 8259); ``1e400`` silently becomes ``inf``; a 5,000-digit integer raises
  ``ValueError`` (the int-string conversion limit) instead of a decode error; ``"\\ud800"`` becomes a
  string that no UTF-8 encoder accepts. Each of these used to surface as a 500 far from the parser.

The rules (I-JSON, RFC 7493, plus bounds), for every service alike:

- bytes are UTF-8 (a leading byte-order mark is tolerated); anything else is :class:`MalformedJson`;
- arrays and objects nest at most :data:`MAX_DEPTH` deep (:class:`MalformedJson`);
- no ``NaN``, ``Infinity`` or ``-Infinity`` (:class:`MalformedJson`);
- no unpaired surrogate, escaped (``"\\ud800"``) or raw (:class:`MalformedJson`: it is not text);
- a number has at most :data:`MAX_NUMBER_CHARS` characters (a uint256 has 78 digits) and is finite
  as a double: :class:`ValueOutOfRange`, a 422 naming the field, since the JSON itself is well formed.

Every error names where: the JSON path of the value (``epcisBody.eventList[2].eventTime``, empty
for the top level), and the line and column.

**Cost.** Valid text pays for a few linear passes of C-level regular expressions (strings are
matched possessively, so nothing backtracks) and one pass over its brackets. Only text that breaks
a rule is walked token by token, to name the first fault.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, NoReturn

from oracles.errors import MalformedJson, ValueOutOfRange

#: Deepest nesting of arrays and objects accepted. EPCIS documents nest about 10 levels and API
#: bodies about 6; 100 leaves room for extensions while keeping every recursive consumer (the C
#: decoder, pydantic, the JSON-LD expansion) far from any stack limit.
MAX_DEPTH = 100

#: Longest number accepted, in characters. A uint256 is 78 digits; nothing this project reads is
#: longer, and Python refuses to convert integers past 4,300 digits with a ValueError.
MAX_NUMBER_CHARS = 100

# A JSON string, or the rest of the text after an unterminated quote (linear, never backtracks).
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# Over the text with its strings blanked out: anything that might break a number rule. Overflowing
# a double takes a three-digit exponent when the mantissa has at most 100 characters.
_LONG_NUMBER = re.compile(rf"[0-9.eE+\-]{{{MAX_NUMBER_CHARS + 1}}}")
_BIG_EXPONENT = re.compile(r"[eE][+\-]?[0-9]{3}")
# Over the whole text: a surrogate escape (paired or not: the walk tells).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_TOKEN = re.compile(
    r'(?P<string>"[^"\\]*+(?:\\.[^"\\]*+)*+"?)|(?P<open>[\[{])|(?P<close>[\]}])|(?P<comma>,)'
    r"|(?P<number>-?[0-9][0-9.eE+\-]*)|(?P<word>-?[A-Za-z_]+)|[\s:]+|.",
    re.S,
)
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.S)
_RAW_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONSTANTS = frozenset({"NaN", "Infinity", "-Infinity"})
_INT_BOUND = 10**MAX_NUMBER_CHARS
_PATH_KEY_CHARS = 64
_PATH_CHARS = 160


def loads(data: bytes | bytearray | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``data`` decoded as JSON under the module's rules; raises ``MalformedJson`` or ``ValueOutOfRange``."""
    text = decode_text(data)
    check_text(text, max_depth=max_depth)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise MalformedJson(exc.msg, line=exc.lineno, column=exc.colno, path=path_at(text, exc.pos)) from exc


def decode_text(data: bytes | bytearray | str) -> str:
    """The text of a body: UTF-8 (a leading byte-order mark dropped), or ``MalformedJson`` saying where not."""
    if isinstance(data, str):
        return data
    raw = bytes(data)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        reason = f"not UTF-8 text (byte {exc.start}: {exc.reason}); send JSON encoded as UTF-8"
        raise MalformedJson(reason, line=line, column=column) from exc


def check_text(text: str, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse ``text`` if it breaks a rule (see the module docstring), naming the first fault.

    Syntax is not checked here (the decoder reports it, with its position): only what the decoder
    would crash on, accept wrongly or turn into something no service can send back out.
    """
    if _suspect(text, max_depth):
        for fault in _faults(text, max_depth):
            raise fault


def check_value(value: Any, path: str = "", *, max_depth: int = MAX_DEPTH) -> None:
    """The same rules for an object already decoded (or built in Python): ``ValueOutOfRange`` naming
    the first value that breaks one. Iterative, so a hostile depth cannot exhaust the stack here."""
    stack: list[tuple[Any, int, str]] = [(value, 0, path)]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, Mapping | list | tuple):
            if depth >= max_depth:
                raise ValueOutOfRange(where, f"nested deeper than {max_depth} levels")
            if isinstance(node, Mapping):
                for key, child in node.items():
                    if isinstance(key, str):
                        _check_string(key, where, "a key")
                    stack.append((child, depth + 1, _member(where, str(key))))
            else:
                stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(node))
        elif isinstance(node, str):
            _check_string(node, where, "the value")
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValueOutOfRange(where, f"{node} is not a JSON number; send a finite number or null")
        elif isinstance(node, int) and not isinstance(node, bool) and not -_INT_BOUND < node < _INT_BOUND:
            raise ValueOutOfRange(where, f"an integer of {node.bit_length()} bits is out of range")


def path_at(text: str, position: int) -> str:
    """The JSON path of the value being read at ``position`` of ``text`` (best effort: for messages)."""
    walk = _Walk(text)
    for token in walk.tokens():
        if token.end() > position:
            break
    return walk.path()


# --- the fast pass ----------------------------------------------------------------------------


def _suspect(text: str, max_depth: int) -> bool:
    """Whether ``text`` may break a rule: C-level scans only (each simple enough for ``re`` to skip
    ahead by its first character), a superset of the faults."""
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        return True
    if not text.isascii() and _RAW_SURROGATE.search(text):
        return True
    structure = _STRING.sub('""', text)
    if "NaN" in structure or "Infinity" in structure:
        return True
    if _LONG_NUMBER.search(structure) or _BIG_EXPONENT.search(structure):
        return True
    if structure.count("[") + structure.count("{") <= max_depth:
        return False
    if re.search(f"[\\[{{]{{{max_depth + 1}}}", structure):  # the usual attack, [[[[..., in one pass
        return True
    brackets = _NOT_BRACKETS.sub("", structure)
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > max_depth


# --- the slow walk: only for text that may break a rule -------------------------------------------


@dataclass
class _Frame:
    is_object: bool
    key: str | None = None
    index: int = 0
    expects_key: bool = False


class _Walk:
    """Tokens of (possibly broken) JSON text with the path of the current value kept alongside."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.frames: list[_Frame] = []

    def tokens(self) -> Iterator[re.Match[str]]:
        for token in _TOKEN.finditer(self.text):
            yield token
            kind = token.lastgroup
            top = self.frames[-1] if self.frames else None
            if kind == "open":
                self.frames.append(_Frame(is_object=token.group() == "{", expects_key=token.group() == "{"))
            elif kind == "close" and self.frames:
                self.frames.pop()
            elif kind == "comma" and top is not None:
                top.index += 1
                if top.is_object:  # the next member's key is not read yet: the path is the object's
                    top.key, top.expects_key = None, True
            elif kind == "string" and top is not None and top.expects_key:
                top.key, top.expects_key = _key_text(token.group()), False

    def in_key(self) -> bool:
        return bool(self.frames) and self.frames[-1].expects_key

    def path(self) -> str:
        path = ""
        for frame in self.frames:
            if frame.is_object:
                path = _member(path, frame.key) if frame.key is not None else path
            else:
                path = f"{path}[{frame.index}]"
        # A path 100 levels deep: its start names the field, its end where the fault is.
        half = _PATH_CHARS // 2
        return path if len(path) <= _PATH_CHARS else f"{path[:half]}...{path[-half:]}"

    def where(self, token: re.Match[str]) -> dict[str, Any]:
        start = token.start()
        line = self.text.count("\n", 0, start) + 1
        return {"line": line, "column": start - self.text.rfind("\n", 0, start), "path": self.path()}


def _faults(text: str, max_depth: int) -> Iterator[MalformedJson | ValueOutOfRange]:
    walk = _Walk(text)
    for token in walk.tokens():
        kind, value = token.lastgroup, token.group()
        if kind == "open" and len(walk.frames) >= max_depth:  # this bracket opens level len + 1
            yield MalformedJson(f"nested deeper than {max_depth} levels", **walk.where(token))
        elif kind == "word" and value in _CONSTANTS:
            reason = f"{value} is not a JSON value (JSON has no NaN or Infinity); send a finite number or null"
            yield MalformedJson(reason, **walk.where(token))
        elif kind == "number":
            problem = _number_problem(value)
            if problem:
                where = walk.where(token)
                yield ValueOutOfRange(where["path"], f"{problem} (line {where['line']} column {where['column']})")
        elif kind == "string":
            # A key's check runs before the walk records it, so the path is the object's own.
            problem = _surrogate_problem(value)
            if problem:
                what = "a key" if walk.in_key() else "a string"
                yield MalformedJson(f"{what} holds {problem}; send Unicode text", **walk.where(token))


def _number_problem(token: str) -> str | None:
    if len(token) > MAX_NUMBER_CHARS:
        return f"a number of {len(token)} characters is out of range (at most {MAX_NUMBER_CHARS})"
    if any(c in token for c in ".eE"):
        try:
            number = float(token)
        except ValueError:
            return None  # not a number at all: the decoder reports the syntax
        if math.isinf(number):
            return f"{token} is beyond the range of a double; send a smaller number"
    return None


def _surrogate_problem(token: str) -> str | None:
    raw = _RAW_SURROGATE.search(token)
    if raw:
        return f"an unpaired surrogate U+{ord(raw.group()):04X}"
    pending: re.Match[str] | None = None
    for escape in _ESCAPE.finditer(token):
        unit = int(escape.group(1), 16) if escape.group(1) else -1
        if pending is not None:
            if 0xDC00 <= unit <= 0xDFFF and escape.start() == pending.end():
                pending = None
                continue
            return f"an unpaired surrogate {pending.group()}"
        if 0xD800 <= unit <= 0xDBFF:
            pending = escape
        elif 0xDC00 <= unit <= 0xDFFF:
            return f"an unpaired surrogate {escape.group()}"
    return f"an unpaired surrogate {pending.group()}" if pending is not None else None


def _check_string(value: str, path: str, what: str) -> None:
    raw = _RAW_SURROGATE.search(value)
    if raw:
        raise ValueOutOfRange(path, f"{what} holds an unpaired surrogate U+{ord(raw.group()):04X}; send Unicode text")


def _key_text(token: str) -> str:
    """A key as it goes into a path: decoded when it can be, printable, never too long."""
    try:
        key = json.loads(token) if token.endswith('"') and len(token) > 1 else token.lstrip('"')
    except json.JSONDecodeError:
        key = token[1:-1]
    if not isinstance(key, str):  # pragma: no cover - a string token always decodes to a string
        key = str(key)
    return key


def _member(path: str, key: str) -> str:
    shown = key.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(shown) > _PATH_KEY_CHARS:
        shown = shown[:_PATH_KEY_CHARS] + "..."
    return f"{path}.{shown}" if path else shown


def _refuse_constant(name: str) -> NoReturn:
    raise MalformedJson(f"{name} is not a JSON value (JSON has no NaN or Infinity); send a finite number or null")
