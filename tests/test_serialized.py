"""Event records serialized once for every subscriber: the call a push sends is, byte for byte,
what serpent writes for the same records, and what the subscriber gets back is the records."""

from __future__ import annotations

from typing import Any

import Pyro4.util
import serpent
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.base import serialized
from engine.base.transport import GuardedSerpent

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
records = st.lists(st.fixed_dictionaries({
    "node": st.text(min_size=1), "boot": st.text(), "seq": st.integers(1), "source": st.text(),
    "name": st.text(), "data": st.dictionaries(st.text(), plain, max_size=5),
    "at": st.floats(allow_nan=False)}), min_size=1, max_size=6)


def batch(items: list[dict[str, Any]]) -> serialized.Serialized:
    return serialized.Serialized(items, [serialized.text(r) for r in items])


@settings(max_examples=50, deadline=None)
@given(records, st.text(min_size=1, max_size=40))
def test_a_push_is_exactly_what_serpent_would_send(items, obj):
    sent = GuardedSerpent().dumpsCall(obj, "events", (batch(items),), {})
    assert sent == Pyro4.util.SerpentSerializer().dumpsCall(obj, "events", (items,), {})
    assert GuardedSerpent().loadsCall(sent) == (obj, "events", (items,), {})


def test_any_other_serializer_sees_a_plain_list():
    items = [{"seq": 1, "data": {"a": [1, 2.5, None]}}, {"seq": 2, "data": {}}]
    assert serpent.dumps(batch(items)) == serpent.dumps(items)
    assert Pyro4.util.SerpentSerializer().dumpsCall("o", "events", (batch(items),), {}) == \
        Pyro4.util.SerpentSerializer().dumpsCall("o", "events", (items,), {})


def test_other_calls_are_serialized_as_before():
    for args, kwargs in [((), {}), ((1, "two"), {}), (([1],), {"k": 3}), ((batch([{}]), 2), {})]:
        assert GuardedSerpent().dumpsCall("o", "m", args, kwargs) == \
            Pyro4.util.SerpentSerializer().dumpsCall("o", "m", args, kwargs)
