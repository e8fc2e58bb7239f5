"""The most a value of a declared type can take on the wire, so a node accepts exactly the
calls its commands can use (see ``engine.core.budget``)."""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from engine.api.constraints import Choices, Length, Range
from engine.api.validation import DEFAULT_LENGTH, NoneType, _tuple_items


@dataclass(frozen=True)
class WireCost:
    """The most a value of a declared type can take in a serpent message."""

    size: int
    items: int
    depth: int

    def __add__(self, other: WireCost) -> WireCost:
        return WireCost(self.size + other.size, self.items + other.items,
                        max(self.depth, other.depth))

    def most(self, other: WireCost) -> WireCost:
        return WireCost(max(self.size, other.size), max(self.items, other.items),
                        max(self.depth, other.depth))


UNKNOWN_COST = WireCost(64 * 1024, 2_000, 8)
"""What an ``Any`` parameter (or a conversion's raw input) is allowed."""
# Items as engine.base.payload counts them: "-12" is a sign and a number, "-1.5e-05" six.
_SCALAR_COST = {int: WireCost(4302, 2, 0), float: WireCost(32, 6, 0),
                bool: WireCost(5, 1, 0), NoneType: WireCost(4, 1, 0)}


def wire_cost(tp: Any, length: int | None = None) -> WireCost:
    """How large, how many items and how deep a value of ``tp`` can be on the wire (serpent
    escapes a character in at most 10 bytes and sends bytes as a base64 dict)."""
    if tp is inspect.Parameter.empty or tp is Any:
        return UNKNOWN_COST
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metas = get_args(tp)
        bounds = [m.hi for m in metas if isinstance(m, Length) and m.hi is not None]
        ranges = [m for m in metas if isinstance(m, Range) and None not in (m.lo, m.hi)]
        if ranges and base in (int, float):
            widest = max(max(abs(r.lo), abs(r.hi)) for r in ranges)  # type: ignore[arg-type]
            scalar = _SCALAR_COST[base]
            return WireCost(len(str(int(widest))) + (2 if base is int else 26), scalar.items, 0)
        return wire_cost(base, min(bounds) if bounds else length)
    if origin in (Union, types.UnionType):
        cost = WireCost(0, 0, 0)
        for option in get_args(tp):
            cost = cost.most(wire_cost(option, length))
        return cost
    if origin in (list, tuple) or tp in (list, tuple):
        items, variable = _tuple_items(tp) if origin is tuple or tp is tuple else (
            [get_args(tp)[0] if get_args(tp) else Any], True)
        if variable:
            n = length if length is not None else DEFAULT_LENGTH[list]
            inner = wire_cost(items[0])
            return WireCost(2 + n * (inner.size + 2), 1 + n * (inner.items + 1), inner.depth + 1)
        total = WireCost(2, 1, 0)
        for item in items:
            total = total + wire_cost(item) + WireCost(2, 1, 0)
        return WireCost(total.size, total.items, total.depth + 1)
    choices = Choices.of(tp)
    if choices is not None:
        cost = WireCost(0, 0, 0)
        for given, _result in choices.accepted:
            cost = cost.most(_value_cost(given))
        return cost
    if tp is str:
        n = length if length is not None else DEFAULT_LENGTH[str]
        return WireCost(2 + 10 * n, 1, 0)
    if tp is bytes:
        n = length if length is not None else DEFAULT_LENGTH[bytes]
        return WireCost(48 + 4 * (n // 3 + 1), 9, 1)
    return _SCALAR_COST.get(tp, UNKNOWN_COST)


def _value_cost(value: Any) -> WireCost:
    """What one choice a caller may send costs: its own text, not any text of its type."""
    if isinstance(value, str):
        return WireCost(2 + 10 * len(value), 1, 0)
    if type(value) is int and value.bit_length() <= 1000:
        return WireCost(len(str(value)) + 2, _SCALAR_COST[int].items, 0)
    return _SCALAR_COST.get(type(value), UNKNOWN_COST)
