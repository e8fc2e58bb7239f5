"""The scan that prices a message before it is parsed, and the limits a node derives from its
commands' declarations."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
import serpent
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Length, Mode, command, hookimpl
from engine.base.payload import SCAN_FROM, Limits, cost
from engine.core.budget import for_behaviours
from engine.core.plugins import collect, get_plugin_manager

leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
          | st.text(max_size=20) | st.binary(max_size=20))
data = st.recursive(leaves, lambda inner: st.lists(inner, max_size=5)
                    | st.tuples(inner, inner)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=40)


def count(value: Any) -> tuple[int, int]:
    """(leaves, nesting) of a value as serpent writes it (bytes become a two-item dict)."""
    if isinstance(value, list | tuple):
        found = [count(v) for v in value]
        return sum(f[0] for f in found), 1 + max((f[1] for f in found), default=0)
    if isinstance(value, dict):
        found = [count(v) for v in value.values()]
        return len(value) + sum(f[0] for f in found), 1 + max((f[1] for f in found), default=0)
    if isinstance(value, bytes):
        return 4, 1
    return 1, 0


@settings(max_examples=300, deadline=None)
@given(data)
def test_whatever_serpent_writes_is_scanned_and_never_undercounted(value):
    text = serpent.dumps(value)
    found = cost(text)
    items, depth = count(value)
    assert found.items >= items
    assert found.depth >= depth


def test_the_usual_call_is_not_scanned_at_all():
    small = serpent.dumps(("pyrostage.red", "call", ("set_color", [255, 0, 0]), {}))
    assert len(small) < SCAN_FROM
    assert Limits(items=1, depth=0).check(small) is None


@pytest.mark.parametrize("text, why", [
    (b"# serpent utf-8 python3.2 \\\n[" + b"0," * 5000 + b"]", "items"),  # a comment ends
    (b"# serpent utf-8 python3.2\r[" + b"0," * 5000 + b"]", "items"),  # at \r too
    (b"#\r\n[" + b"0," * 5000 + b"]", "items"),
    (b"[0 or 0 or 0]", None),  # names count as items (literal_eval refuses them cheaply)
    (b"f'{[0]*9}'", "prefix"),
    (b"b'x'", "prefix"),
    (b"'''x'''", "triple"),
    (b"'x", "not closed"),
    (b"['a\\'', \"b\\\"\", 'c\\\\']", None),
])
def test_what_serpent_never_writes_is_refused(text, why):
    if why == "items":
        with pytest.raises(ValueError, match="items"):
            Limits(items=1000).check(text)
    elif why is None:
        assert cost(text).items >= 3
    else:
        with pytest.raises(ValueError, match=why):
            cost(text)


def test_strings_are_one_item_whatever_they_hold():
    text = serpent.dumps(["a,b,[c],{d}:(e) # f '\" \\" * 1000])
    assert cost(text).items == 4  # serpent's header comment, the list's brackets, the string


class Wide(Mode):
    name = "wide"

    @command
    def plain(self, words: str, numbers: list[int], blob: bytes) -> int:
        return len(words) + len(numbers) + len(blob)

    @command
    def roomy(self, blob: Annotated[bytes, Length(0, 5_000_000)]) -> int:
        return len(blob)

    def draw(self, surface: Any) -> None:
        surface.fill((0, 0, 0))


class WidePlugin:
    @hookimpl
    def register_modes(self, register: Any) -> None:
        register(Wide)


def test_unbounded_parameters_get_default_bounds_and_the_node_follows_them(start_node):
    pm, _ = get_plugin_manager()
    plugin = WidePlugin()
    pm.register(plugin, name="wide-test")
    try:
        limits, _parsing, largest = for_behaviours(collect(pm).modes.values())
        assert largest == "wide.roomy" and 5_000_000 < limits.inbound < 8_000_000
        node = start_node(pm=pm)
        assert node.node.daemon.pyrostage_gate.limits.inbound == limits.inbound
        with node.proxy() as p:
            assert p.call("wide.plain", "x" * 10_000, [1] * 1000, b"\0" * 1_000_000) == 1_011_000
            for args, what in ((("x" * 10_001, [], b""), "at most 10000 characters"),
                               (("", [1] * 1001, b""), "at most 1000 items"),
                               (("", [], b"\0" * 1_000_001), "at most 1000000 bytes")):
                with pytest.raises(ValueError, match=what):
                    p.call("wide.plain", *args)
            assert p.call("wide.roomy", b"\0" * 4_000_000) == 4_000_000
    finally:
        pm.unregister(plugin)


def test_the_scan_is_linear_in_the_size_however_the_message_is_shaped():
    """Deep nesting and many comments are refused after one pass, not one pass per level."""
    import time

    shapes = [b"[" * 1_000_000 + b"]" * 1_000_000, b"#\n" * 1_000_000,
              b"'\\'" * 500_000, b"'\\\n" * 500_000]
    for text in shapes:
        started = time.process_time()
        with pytest.raises(ValueError):
            Limits(items=10_000, depth=16).check(text)
        assert time.process_time() - started < 5.0  # hang guard: minutes when quadratic


def test_a_full_list_of_floats_is_accepted_as_declared():
    class Floats(Mode):
        name = "floats"

        @command
        def take(self, values: Annotated[list[float], Length(0, 2000)]) -> int:
            return len(values)

        def draw(self, surface: Any) -> None: ...

    _limits, parsing, _ = for_behaviours([Floats])
    worst = serpent.dumps(("pyrostage.red", "call", ("floats.take", [-1.5e-05] * 2000), {}))
    assert parsing.check(worst) is not None  # not refused
