"""The scoreboard mode: its commands, its durable state and the journal of score changes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from engine import RGB, Color, Convert, Length, Mode, Printable, Range, Setting, command

from .backdrop import LIMIT, Backdrop, Picture, prepare
from .counting import CountUp
from .look import Look

if TYPE_CHECKING:
    import pygame

MAX_SCORE = 999_999
DEFAULT_TEAM = "Team"
DEFAULT_TITLE_COLOUR: RGB = (255, 204, 0)

Points = Annotated[int, Range(-MAX_SCORE, MAX_SCORE)]
Delta = Annotated[int, Range(-2 * MAX_SCORE, 2 * MAX_SCORE)]
TeamName = Annotated[str, Length(1, 24), Printable()]
HistoryLength = Annotated[int, Range(1, 1000)]
Background = Annotated[bytes, Length(0, LIMIT), Convert(prepare, "bytes")]


class Scoreboard(Mode):
    name = "scoreboard"
    description = "a team name over its score"
    settings: dict[str, Setting] = {}  # none: a [plugins.<name>] key is a mistake

    team: str = DEFAULT_TEAM
    score: int = 0
    title_color: RGB = DEFAULT_TITLE_COLOUR
    background: bytes | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counter = CountUp()
        self.look = Look()
        self.backdrop = Backdrop(self.redraw)
        self._drawn: int | None = None

    def restore(self) -> None:
        self.team = str(self.state.get("team", DEFAULT_TEAM))
        self.score = int(self.state.get("score", 0))
        r, g, b = self.state.get("title_color", list(DEFAULT_TITLE_COLOUR))
        self.title_color = (r, g, b)
        self._show_background(self.state.get("background"))
        self.counter.jump(self.score)

    # -- team, colour, background ----------------------------------------------------------

    @command(idempotent=True)
    def set_team(self, name: TeamName) -> str:
        """Show a team name: 1 to 24 printable characters (long names shrink to fit)."""
        self.state.set("team", name)
        self.team = name
        return name

    @command(read=True)
    def get_team(self) -> str:
        """The team name shown."""
        return self.team

    @command(idempotent=True)
    def set_title_color(self, color: Color) -> list[int]:
        """Colour of the team name: a colour name, [r, g, b] or "r,g,b"."""
        rgb: RGB = color  # type: ignore[assignment]  # Convert made it (r, g, b)
        self.state.set("title_color", list(rgb))
        self.title_color = rgb
        return list(rgb)

    @command(idempotent=True)
    def set_background(self, png: Background | None) -> str:
        """Show a PNG (at most 2 MB, scaled to the screen) behind the score; None = built-in."""
        picture: Picture | None = png  # type: ignore[assignment]  # Convert decoded it
        self.state.set("background", picture.data if picture is not None else None)
        self._show_background(picture)
        return picture.describe() if picture is not None else "built-in"

    def _show_background(self, picture: Picture | bytes | None) -> None:
        data = picture.data if isinstance(picture, Picture) else picture
        if data != self.background:
            self.background = data
            self.backdrop.show(picture)

    # -- the score ------------------------------------------------------------------------

    @command(idempotent=True)
    def set_score(self, points: Points) -> int:
        """Set the score (-999999 to 999999); the display counts to it."""
        return self._change(points, self.stage.source)

    @command
    def add_points(self, delta: Delta) -> int:
        """Add points (negative to take away); the score must stay within -999999..999999."""
        new = self.score + delta
        if not -MAX_SCORE <= new <= MAX_SCORE:
            raise ValueError(
                f"add_points: {self.score} + {delta} = {new} is outside the score range "
                f"-{MAX_SCORE}..{MAX_SCORE}; the score stays {self.score}"
            )
        return self._change(new, self.stage.source)

    @command(read=True)
    def get_score(self) -> int:
        """The score (already the new value while the display is still counting)."""
        return self.score

    @command
    def undo(self) -> int:
        """Revert the last score change that is not undone yet; returns the score."""
        entry = self._last_change()
        if entry is None:
            raise ValueError("undo: there is no score change left to undo")
        self.state.mark_undone(entry["id"])
        return self._change(
            self.score - int(entry["delta"]), "undo", reverts=entry["id"], by=self.stage.source
        )

    @command(read=True)
    def history(self, n: HistoryLength = 10) -> list[dict[str, Any]]:
        """The last n score changes, newest first: delta, score, source, time, undone."""
        return [
            {**entry, "time": datetime.fromtimestamp(entry["at"]).isoformat(timespec="seconds")}
            for entry in self.state.entries("score", n)
        ]

    def _change(self, new: int, source: str, **extra: Any) -> int:
        """Store, journal and publish a new score; the screen starts counting toward it."""
        delta = new - self.score
        if delta == 0:
            return self.score
        self.state.set("score", new)
        self.state.journal("score", source, delta=delta, score=new, team=self.team, **extra)
        self.score = new
        self.counter.to(new, self.stage.clock())
        self.publish("score_changed", team=self.team, score=new, delta=delta, source=source)
        return new

    def _last_change(self) -> dict[str, Any] | None:
        """The newest journaled change that is neither undone nor itself an undo."""
        window = 32
        while True:
            entries = self.state.entries("score", window, include_undone=False)
            for entry in entries:
                if entry["source"] != "undo":
                    return entry
            if len(entries) < window:
                return None
            window *= 4

    # -- the screen -----------------------------------------------------------------------

    def animating(self) -> bool:
        # frames until one has shown the new score (not until the clock says the count is over:
        # the last frame before that may land just short of the end)
        return self._drawn != self.counter.target

    def draw(self, surface: pygame.Surface) -> None:
        size = surface.get_size()
        background = self.backdrop.surface(size)
        if background is None:
            background = self.look.built_in(size)
        self._drawn = shown = self.counter.value(self.stage.clock())
        self.look.draw(surface, self.team, str(shown), self.title_color, background,
                       self.stage.screen_kept)

    def summary(self) -> dict[str, Any]:
        size = len(self.background) if self.background is not None else 0
        return {
            "team": self.team,
            "score": self.score,
            "shown": self._drawn,
            "title_color": list(self.title_color),
            "background": f"PNG, {size} bytes" if size else "built-in",
            "background_error": self.backdrop.error,
        }
