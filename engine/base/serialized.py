"""Event batches serialized once, however many subscribers they go to.

A node pushes each change's event records to up to 16 subscribers, each through a proxy of
its own, and Pyro4 serializes a call's arguments per call: the same records 16 times (44 % of
a busy node's interpreter time at 100 events/s, py-spy). So a record's serpent text is worked
out once, when it is published, and a push sends a ``Serialized`` list whose call the node's
serializer (``transport.GuardedSerpent``) puts together from those texts: byte for byte what
serpent would have written. Any other serializer sees a plain list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import serpent

from engine.base.payload import Limits

PUSH_BYTES = 64 * 1024
"""Most bytes of records' text a node pushes in one call (one record at least; an event's data
is at most 16 kB as JSON)."""
PUSH_PARSING = Limits(items=PUSH_BYTES + 1024, depth=32)
"""What a controller's listener parses in one call: a push of ``PUSH_BYTES`` (an item takes a
byte at least) with events' data nested up to 25 deep."""
NO_ARGS = b"(),{})"
"""How serpent ends a call's text (object, method, args, kwargs) that has no arguments."""


def text(value: Any) -> bytes:
    """serpent's text for ``value`` (plain data), without the header line it starts with."""
    data: bytes = serpent.dumps(value, module_in_classname=True)
    return data[data.index(b"\n") + 1:]


class Serialized(list[Any]):
    """``items`` with their serpent ``texts`` (``text(item)`` each), worked out beforehand."""

    def __init__(self, items: Iterable[Any], texts: Iterable[bytes]):
        super().__init__(items)
        self.texts = list(texts)


def call(obj: str, method: str, batch: Serialized) -> bytes:
    """What serpent writes for the call ``obj.method(batch)``, from the texts it has."""
    head: bytes = serpent.dumps((obj, method, (), {}), module_in_classname=True)
    return head[:-len(NO_ARGS)] + b"([" + b",".join(batch.texts) + b"],),{})"
