"""How large a call a node accepts: what its largest declared command can take, no more.

A byte cap alone either refuses a legitimate 2 MB background or lets 14 MB of small items
through; deriving both the byte and the item limits from the commands' declarations means a
node accepts exactly what its commands can use (a new plugin with a bigger parameter raises
them), whatever the size of its screen.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.api.modes import Behaviour
from engine.api.wire import UNKNOWN_COST, WireCost, wire_cost
from engine.base import transport
from engine.base.payload import Limits as ParseLimits

ENVELOPE = WireCost(1024, 32, 2)
"""The call around the arguments: object id, method, command name, HMAC and annotations."""
FLOOR = WireCost(64 * 1024, 1_000, 8)
"""What the facade's own members need (``press``, ``switch``, ``call_as`` ...)."""


def command_cost(behaviour: type[Behaviour]) -> dict[str, WireCost]:
    """Each of a behaviour's commands with the most a call to it can send."""
    costs = {}
    for name, spec in behaviour.command_specs().items():
        total = ENVELOPE + WireCost(len(behaviour.name) + len(name), 0, 0)
        for param in spec.signature.params:
            arg = wire_cost(param.annotation)
            total = total + arg + WireCost(len(param.name) + 4, 2, 0)
        costs[f"{behaviour.name}.{name}"] = total
    return costs


def for_behaviours(
    behaviours: Iterable[type[Behaviour]],
) -> tuple[transport.Limits, ParseLimits, str]:
    """The node's transport and parse limits, and the command that sets the byte limit."""
    largest, biggest = FLOOR, "the node's own members"
    for behaviour in behaviours:
        for name, cost in command_cost(behaviour).items():
            if cost.size > largest.size:
                biggest = name
            largest = largest.most(cost)
    largest = largest.most(FLOOR)
    return (
        transport.Limits(inbound=largest.size),
        ParseLimits(items=largest.items, depth=largest.depth + 2),
        biggest,
    )


__all__ = ["UNKNOWN_COST", "command_cost", "for_behaviours"]
