"""The quiz mode: four teams, one buzzer each; the first press locks out the rest.

Everything a command or a press changes is in ``self.state`` (names, scores, the question,
who buzzed), so a restart, or the engine undoing a failed change, finds it as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from engine import RGB, Length, Mode, Printable, Range, command

from .look import Look, Team, View

if TYPE_CHECKING:
    import pygame
    from engine import Stage, State

Button = Literal["main", "second", "third", "fourth"]
BUTTONS: tuple[str, ...] = get_args(Button)
COLOURS: dict[str, RGB] = {
    "main": (220, 50, 50),
    "second": (40, 110, 230),
    "third": (40, 170, 80),
    "fourth": (240, 190, 30),
}
NAMES = {"main": "Red", "second": "Blue", "third": "Green", "fourth": "Yellow"}
MAX_SCORE = 1_000_000
BELL_SECONDS = 0.3

Points = Annotated[int, Range(-1000, 1000)]
Score = Annotated[int, Range(-MAX_SCORE, MAX_SCORE)]
TeamName = Annotated[str, Length(1, 40), Printable()]
Question = Annotated[str, Length(0, 300), Printable()]


class Quiz(Mode):
    name = "quiz"
    description = "a quiz buzzer: four teams, the first press locks out the rest"
    buttons = BUTTONS

    def __init__(self, stage: Stage, state: State, config: dict[str, Any]) -> None:
        super().__init__(stage, state, config)
        self.look = Look()
        self.names = dict(NAMES)
        self.scores = dict.fromkeys(BUTTONS, 0)
        self.text = ""
        self.buzzer: str | None = None

    def restore(self) -> None:
        names = self.state.get("names", {})
        scores = self.state.get("scores", {})
        self.names = {b: str(names.get(b, NAMES[b])) for b in BUTTONS}
        self.scores = {b: int(scores.get(b, 0)) for b in BUTTONS}
        self.text = str(self.state.get("question", ""))
        buzzer = self.state.get("buzzer")
        self.buzzer = buzzer if buzzer in BUTTONS else None

    # -- commands -------------------------------------------------------------------------

    @command
    def award(self, points: Points = 1) -> dict[str, Any]:
        """Give points to the team that buzzed (negative takes them) and open the buzzers."""
        button = self.buzzer
        if button is None:
            raise LookupError("award: no team has buzzed since the buzzers were opened; "
                              "award points after a team's button was pressed")
        score = self.scores[button] + points
        if abs(score) > MAX_SCORE:
            raise ValueError(f"award: {self.names[button]}'s score would be {score}; scores "
                             f"stay between {-MAX_SCORE} and {MAX_SCORE}")
        self._score(button, score)
        self._open()
        self.publish("awarded", button=button, team=self.names[button], points=points,
                     score=score)
        return {"button": button, "team": self.names[button], "score": score}

    @command(idempotent=True)
    def reset(self, scores: bool = False) -> None:
        """Open the buzzers without awarding anything; scores=True also zeroes every score."""
        if scores:
            for button in BUTTONS:
                self._score(button, 0)
        self._open()

    @command(idempotent=True)
    def question(self, text: Question) -> str:
        """Show a question (empty: none) and open the buzzers for it."""
        self.state.set("question", text)
        self.text = text
        self._open()
        return text

    @command(idempotent=True)
    def team(self, button: Button, name: TeamName) -> str:
        """Name the team whose buzzer is ``button``."""
        self.names = {**self.names, button: name}
        self.state.set("names", self.names)
        return name

    @command(idempotent=True)
    def set_score(self, button: Button, points: Score) -> int:
        """Set the score of the team whose buzzer is ``button`` (to fix a mistake)."""
        self._score(button, points)
        return points

    @command(read=True)
    def buzzed(self) -> dict[str, str] | None:
        """The team holding the buzzers, {button, team}; None while they are open."""
        button = self.buzzer
        return None if button is None else {"button": button, "team": self.names[button]}

    @command(read=True)
    def teams(self) -> list[dict[str, Any]]:
        """Every team in button order: button, team, colour [r, g, b], score."""
        return [{"button": b, "team": self.names[b], "colour": list(COLOURS[b]),
                 "score": self.scores[b]} for b in BUTTONS]

    @command(read=True)
    def winner(self) -> list[str]:
        """The leading team's name; several when they share the top score."""
        best = max(self.scores.values())
        return [self.names[b] for b in BUTTONS if self.scores[b] == best]

    # -- the buzzers ----------------------------------------------------------------------

    def on_button(self, button: str, at: float) -> None:
        if self.buzzer is not None or button not in BUTTONS:
            return  # locked: only the first press counts until award() or reset()
        self.state.set("buzzer", button)
        self.buzzer = button
        self.publish("buzzed", button=button, team=self.names[button])
        self.stage.ring(BELL_SECONDS)

    def _open(self) -> None:
        self.state.set("buzzer", None)
        self.buzzer = None

    def _score(self, button: str, score: int) -> None:
        self.scores = {**self.scores, button: score}
        self.state.set("scores", self.scores)

    # -- the screen -----------------------------------------------------------------------

    def draw(self, surface: pygame.Surface) -> None:
        teams = tuple(Team(self.names[b], self.scores[b], COLOURS[b]) for b in BUTTONS)
        lead = BUTTONS.index(self.buzzer) if self.buzzer is not None else None
        self.look.draw(surface, View(self.text, teams, lead))

    def summary(self) -> dict[str, Any]:
        return {"question": self.text, "buzzed": self.buzzer, "teams": self.teams()}
