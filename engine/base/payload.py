"""What a serpent message would cost to parse, measured before it is parsed.

serpent parses with ``ast.literal_eval``, which spends about a kilobyte per item and holds the
GIL throughout: 14 MB of ``0,0,0...`` cost a node 6.6 GB and stalled every other caller for
24 s. No byte cap can prevent that (0.6 MB of small ints already cost ~300 MB), so a message
is scanned first — by ``re`` and ``bytes.translate``, in C — and refused with ``ValueError``
when it holds more items or deeper nesting than the node's commands accept.

The scan follows Python's tokenizer where it matters: strings and comments are skipped whole,
so what is counted (punctuation, words, strings) is what the parser would see. What serpent
never writes and a parser would treat specially — triple quotes, string prefixes such as
``f'{...}'``, unclosed strings — is refused outright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

SCAN_FROM = 1024
"""Messages shorter than this are not scanned: they cannot hold more than a few hundred items
(and Python's parser refuses nesting deeper than 200 by itself)."""

# Starts with a character class so ``re`` skips to the next quote or '#' at C speed. Inside
# a string a backslash escapes the next byte (a newline too: a continued line); a quote that
# never closes takes what the failed string took, so no byte is scanned more than twice.
_SKIPPED = re.compile(
    rb"""[#'"](?:"""
    rb"""(?<=')''|(?<=")""\""""                        # a triple quote (never written by serpent)
    rb"""|(?<=')[^'\\\n]*+(?:\\.[^'\\\n]*+)*+'"""  # a string, skipped whole
    rb"""|(?<=")[^"\\\n]*+(?:\\.[^"\\\n]*+)*+\""""
    rb"""|(?<=\#)[^\n]*+"""                            # a comment: to the end of its line
    rb"""|(?P<open>[^\\\n]*+(?:\\.[^\\\n]*+)*+))""",  # a quote that never closes
    re.S,
)
_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123)) + b"_" + bytes(range(128, 256))
_WORD = _LETTERS + b"0123456789"
_AS_WORDS = bytes(97 if c in _WORD else 32 for c in range(256))  # "a" in words, " " between
_NOT_PUNCTUATION = bytes(c for c in range(256) if chr(c).isalnum() or chr(c).isspace()
                         or c >= 128 or c == ord("_"))
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"()[]{}")
_OPENING = frozenset(b"([{")


@dataclass(frozen=True)
class Cost:
    items: int
    depth: int


class _TooMany(Exception):
    pass


def _refuse(what: str) -> NoReturn:
    raise ValueError(f"the message has {what}, which serpent never writes; send plain data "
                     "with Pyro4's serpent serializer")


def cost(data: bytes, most: int | None = None, deepest: int | None = None) -> Cost:
    """Items (strings, comments, numbers, names, operators) and bracket nesting of a serpent
    message, in time linear in its size.

    Raises ``ValueError`` for text serpent does not write. Counting stops early past ``most``
    items (the result then says more than ``most``) and nesting past ``deepest``.
    """
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # Python's line ends, all three
    skipped = 0

    def skip(match: re.Match[bytes]) -> bytes:
        nonlocal skipped
        skipped += 1
        if most is not None and skipped > most:
            raise _TooMany
        if match.lastgroup == "open":
            _refuse("a string that is not closed on its line")
        text = match.group()
        if text[0] != 35:  # not '#': a string
            if len(text) == 3 and text[1] == text[2] == text[0]:
                _refuse("a triple-quoted string")
            start = match.start()
            if start and data[start - 1] in _LETTERS:
                _refuse("a string prefix (f'', b'', r'' ...)")
        return b""

    try:
        bare = _SKIPPED.sub(skip, data)
    except _TooMany:
        return Cost(items=skipped, depth=0)
    names = (b" " + bare.translate(_AS_WORDS)).count(b" a")  # one item per number or name
    punctuation = bare.translate(None, _NOT_PUNCTUATION)
    items = skipped + names + len(punctuation)
    if most is not None and items > most:
        return Cost(items=items, depth=0)  # never walk the brackets of a refused message
    return Cost(items=items, depth=_depth(punctuation.translate(None, _NOT_BRACKET), deepest))


def _depth(brackets: bytes, deepest: int | None) -> int:
    """How deep the brackets nest (one pass; stops once past ``deepest``)."""
    depth = level = 0
    for byte in brackets:
        if byte in _OPENING:
            level += 1
            if level > depth:
                depth = level
                if deepest is not None and depth > deepest:
                    break
        elif level:
            level -= 1
    return depth


@dataclass(frozen=True)
class Limits:
    """The most a daemon parses in one message: set from the commands a node declares."""

    items: int = 10_000
    depth: int = 16

    def check(self, data: bytes) -> Cost | None:
        """Refuse ``data`` with ``ValueError`` when parsing it would cost more than allowed."""
        if len(data) < SCAN_FROM:
            return None
        found = cost(data, most=self.items, deepest=self.depth)
        if found.items > self.items:
            raise ValueError(
                f"the message has more than {self.items} items (strings, numbers, names, "
                "operators); this node accepts at most that many in one call"
            )
        if found.depth > self.depth:
            raise ValueError(
                f"the message nests more than {self.depth} deep; this node accepts at most "
                f"{self.depth}"
            )
        return found
