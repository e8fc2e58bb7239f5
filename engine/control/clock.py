"""How far a node's clocks are from ours, measured over Pyro the way NTP does it.

A camp has no internet and a Pi no real-time clock, so nothing here trusts NTP: the controller
asks the node for its clocks (``facade.clock()``) several times, stamping its own clock just
before and after each question, and keeps the exchange with the shortest round trip. The
node's answer was read somewhere inside that round trip, so the offset is known to within half
of it. Two measurements some seconds apart also give the drift between the two clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXCHANGES = 8
MAX_ERROR = 0.010
"""A clock error bound above this (seconds) is worth a warning in a race."""


@dataclass(frozen=True)
class Exchange:
    """One question: our clock before (``sent``) and after (``back``) it, the node's answer."""

    sent: float
    node: float
    back: float

    @property
    def round_trip(self) -> float:
        return self.back - self.sent

    @property
    def offset(self) -> float:
        """The node's clock minus ours (the node read its clock once, between sent and back:
        NTP's t1 = t2)."""
        return self.node - (self.sent + self.back) / 2


def best(exchanges: list[Exchange]) -> Exchange:
    """The exchange with the smallest round trip: the one that pins the offset best."""
    if not exchanges:
        raise ValueError("no clock exchanges to choose from")
    return min(exchanges, key=lambda e: e.round_trip)


@dataclass(frozen=True)
class Offset:
    """A node's clocks relative to this controller's, at one moment."""

    node: str
    monotonic: float
    """The node's stage clock minus our ``time.monotonic()``."""
    wall: float
    """The node's ``time.time()`` minus ours."""
    round_trip: float
    """The best exchange's round trip (seconds)."""
    at: float
    """Our ``time.monotonic()`` when it was measured."""
    drift: float = 0.0
    """How fast the node's stage clock gains on ours (seconds per second), when known."""

    @property
    def error(self) -> float:
        """The bound on the offset's error when measured: half the best round trip."""
        return self.round_trip / 2

    def node_instant(self, local: float) -> float:
        """Our monotonic instant ``local`` in the node's stage clock (drift included)."""
        return local + self.monotonic + self.drift * (local - self.at)

    def error_at(self, local: float) -> float:
        """The bound on the clock error at our instant ``local``: half the round trip plus
        what the drift can add until then."""
        return self.error + abs(self.drift) * max(0.0, local - self.at)

    def local_time(self, node_wall: float) -> float:
        """A node wall time (an event's ``at``, a journal entry's) as our wall time."""
        return node_wall - self.wall

    def remeasured(self, later: Offset) -> Offset:
        """``later`` with the drift seen between this measurement and it."""
        span = later.at - self.at
        drift = (later.monotonic - self.monotonic) / span if span > 0.5 else self.drift
        return Offset(later.node, later.monotonic, later.wall, later.round_trip, later.at, drift)


def measure(node: str, ask: Callable[[], dict[str, Any]], exchanges: int = EXCHANGES,
            local: Callable[[], float] = time.monotonic,
            local_wall: Callable[[], float] = time.time) -> Offset:
    """Ask ``ask()`` (a node's ``clock()``) ``exchanges`` times and keep the best answer."""
    mono: list[Exchange] = []
    walls: list[Exchange] = []
    for _ in range(max(1, exchanges)):
        sent, sent_wall = local(), local_wall()
        answer = ask()
        back, back_wall = local(), local_wall()
        mono.append(Exchange(sent, float(answer["monotonic"]), back))
        walls.append(Exchange(sent_wall, float(answer["wall"]), back_wall))
    pick = mono.index(best(mono))
    return Offset(node, mono[pick].offset, walls[pick].offset, mono[pick].round_trip,
                  mono[pick].back)
