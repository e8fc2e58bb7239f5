"""What a behaviour stores, and the view of the store it stores it through.

Values are checked to be exactly what JSON gives back (``plain``), so what a plugin reads after
a restart is what it read before; ``StateView`` is one behaviour's slice of the node's store.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from engine.base.text import short

if TYPE_CHECKING:
    from engine.core.store import Store

DEPTH = 20
"""Most levels of lists and dicts one value may nest: the records and replies that carry it add
a few, a controller's listener parses 32 and serpent writes none deeper than 200."""
STORABLE = ("None, bool, int, float (finite), str, lists (tuples are stored as lists) and dicts "
            f"with str keys of these, nested at most {DEPTH} deep; bytes only as the whole value")


def plain(value: Any, where: str) -> Any:
    """``value`` exactly as JSON gives it back (tuples become lists, new containers), so what
    a plugin stores or publishes reads the same after a restart or on a controller.

    ``TypeError`` for what JSON would change or cannot hold (dict keys that are not str, sets,
    bytes inside a list or dict, other objects, subclasses such as enums); ``ValueError`` for
    floats that are not finite, str with surrogates, containers that contain themselves and
    containers nested more than ``DEPTH`` deep (a reply or push carrying them would fail).
    ``where`` names the value in the message (``score``, ``data['teams'][2]``).
    """
    return _plain(value, where, set())


def _text(value: str, where: str) -> str:
    """``value`` if it is text JSON keeps: no surrogate code points (JSON would join a pair)."""
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError(f"{where} is a str with surrogate code points (not text; JSON "
                             f"would change it); accepted: {STORABLE}") from None
    return value


def _plain(value: Any, where: str, path: set[int]) -> Any:
    kind = type(value)
    if value is None or kind is int or kind is bool:
        return value
    if kind is str:
        return _text(value, where)
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}: a stored float must be finite; "
                             f"accepted: {STORABLE}")
        return value
    if kind is list or kind is tuple or kind is dict:
        if id(value) in path:
            raise ValueError(f"{where} contains itself; accepted: {STORABLE}")
        if len(path) >= DEPTH:
            raise ValueError(f"{where} nests lists and dicts more than {DEPTH} deep; "
                             f"accepted: {STORABLE}")
        path.add(id(value))
        try:
            if kind is not dict:
                return [_plain(item, f"{where}[{i}]", path) for i, item in enumerate(value)]
            out = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise TypeError(
                        f"{where} has the key {short(key)} ({type(key).__name__}): dict keys "
                        f"must be str (JSON would give it back as a str); accepted: {STORABLE}"
                    )
                out[_text(key, f"{where} key")] = _plain(item, f"{where}[{key!r}]", path)
            return out
        finally:
            path.discard(id(value))
    if kind is bytes or kind is bytearray:
        raise TypeError(f"{where} is bytes inside a list or dict (JSON has no bytes); "
                        f"accepted: {STORABLE}")
    raise TypeError(f"{where} is a {kind.__name__} ({short(value)}), which JSON would not "
                    f"give back as it is; accepted: {STORABLE}")


class StateView:
    """The slice of the store one behaviour sees: ``get``/``set`` values, ``journal`` entries.

    The values live in a dict that is never changed in place: ``set`` makes a new one. So a
    ``snapshot`` before every change, of every behaviour, costs nothing (it is the dict as it
    is), and ``revert`` puts that very dict back.
    """

    def __init__(self, store: Store, owner: str):
        self._store = store
        self.owner = owner
        self._cache: dict[str, Any] = store.load(owner)

    def snapshot(self) -> dict[str, Any]:
        """The values as they are now, for ``revert``; not to be changed (it is the view's own
        dict, which ``set`` replaces rather than changes)."""
        return self._cache

    def reload(self) -> bool:
        """Read the values back from the store (after a failed commit); True if any changed."""
        values = self._store.load(self.owner)
        changed = values != self._cache
        self._cache = values
        return changed

    def revert(self, snapshot: dict[str, Any]) -> bool:
        """Put the values back as ``snapshot`` had them; True if anything changed."""
        changed = snapshot is not self._cache and snapshot != self._cache
        self._cache = snapshot
        return changed

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value; lists and dicts come as copies, so changing one in place changes
        nothing until it is ``set`` (and a failed change can always be reverted)."""
        value = self._cache.get(key, default)
        return copy.deepcopy(value) if isinstance(value, list | dict) else value

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` as it will read back after a restart: tuples become lists (also
        for ``get`` straight away); ``TypeError``/``ValueError`` for anything JSON would
        change or cannot hold (see ``plain``), and nothing is stored."""
        if type(key) is not str:
            raise TypeError(f"state.set: the key must be a str, got {short(key)} "
                            f"({type(key).__name__})")
        if type(value) is bytes or type(value) is bytearray:
            value = bytes(value)
        else:
            try:
                value = plain(value, key)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"state.set({key!r}, ...): {exc}") from None
        self._store.put(self.owner, key, value)
        self._cache = {**self._cache, key: value}

    def journal(self, kind: str, source: str, **data: Any) -> None:
        self._store.journal(self.owner, kind, plain(data, f"journal {kind!r} entry"), source)

    def entries(self, kind: str, n: int, include_undone: bool = True) -> list[dict[str, Any]]:
        return self._store.entries(self.owner, kind, n, include_undone)

    def mark_undone(self, entry_id: int) -> None:
        self._store.mark_undone(entry_id)
