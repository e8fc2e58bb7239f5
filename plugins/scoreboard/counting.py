"""The score shown on screen, counting toward the real one frame by frame.

Pure arithmetic on clock readings: the stage's clock drives it, draw() samples it, and
nothing ever waits in a loop for it.
"""

from __future__ import annotations

from dataclasses import dataclass

LONGEST = 0.45
"""No change takes longer than this to count up (seconds): with the frame that shows the final
value, every change is on screen within half a second."""


def duration(difference: int) -> float:
    """Small changes tick over quickly, big ones take the longest."""
    return min(LONGEST, 0.1 + 0.04 * abs(difference))


@dataclass
class CountUp:
    """Moves from the value shown when a change came in to the new value, easing out."""

    start_value: int = 0
    target: int = 0
    started: float = 0.0
    length: float = 0.0

    def jump(self, value: int) -> None:
        """Show ``value`` at once (on restore, nothing to count)."""
        self.start_value = self.target = value
        self.length = 0.0

    def to(self, value: int, now: float) -> None:
        """Count from whatever is on screen now toward ``value``."""
        self.start_value = self.value(now)
        self.target = value
        self.started = now
        self.length = duration(value - self.start_value)

    def value(self, now: float) -> int:
        """The number to show at ``now``; never overshoots the target."""
        if not self.moving(now):
            return self.target
        t = max(0.0, (now - self.started) / self.length)
        eased = 1.0 - (1.0 - t) ** 3
        return self.start_value + int((self.target - self.start_value) * eased)

    def moving(self, now: float) -> bool:
        return self.length > 0 and now < self.started + self.length
