"""The quiz on a real node: engine.testing's fixtures start it headless, with real Pyro and
SQLite, and every check is what a controller or the audience would see."""

import pytest
from engine import hookimpl
from engine.testing import wait_for

from pyrostage_quiz import COLOURS, NAMES


def test_the_first_press_locks_the_buzzers(pyrostage_node):
    node = pyrostage_node(mode="quiz")
    assert node.press("second")
    assert node.call("buzzed") == {"button": "second", "team": NAMES["second"]}


def test_a_second_press_is_ignored(pyrostage_node):
    node = pyrostage_node(mode="quiz")
    node.press("third")
    node.press("main")
    assert node.call("buzzed") == {"button": "third", "team": NAMES["third"]}


def test_award_goes_to_the_team_that_buzzed_and_opens_the_buzzers(pyrostage_node):
    node = pyrostage_node(mode="quiz")
    node.press("fourth")
    assert node.call("award", 3) == {"button": "fourth", "team": NAMES["fourth"], "score": 3}
    assert [t["score"] for t in node.call("teams")] == [0, 0, 0, 3]
    assert node.call("buzzed") is None


def test_state_survives_a_restart(pyrostage_node):
    node = pyrostage_node(mode="quiz")
    node.call("team", "main", "The Owls")
    node.call("question", "Which planet has the most moons?")
    node.press("main")
    node.call("award", 2)
    node.press("second")
    node.restart()
    assert node.mode == "quiz"
    assert node.call("teams")[0] == {"button": "main", "team": "The Owls",
                                     "colour": list(COLOURS["main"]), "score": 2}
    assert node.call("buzzed") == {"button": "second", "team": NAMES["second"]}
    assert node.status()["state"]["quiz"]["question"] == "Which planet has the most moons?"


def test_the_screen_shows_who_buzzed_in_their_colour(pyrostage_node):
    node = pyrostage_node(mode="quiz", size=(320, 180))
    assert node.snapshot().pixel(4, 90) != COLOURS["second"]
    node.press("second")
    assert node.snapshot().pixel(4, 90) == COLOURS["second"]


def test_every_team_is_on_screen_in_its_colour(pyrostage_node):
    shot = pyrostage_node(mode="quiz", size=(320, 180)).snapshot()
    strip = 180 * 70 // 100 + 1  # the colour strip over each team's name and score
    assert [shot.pixel(40 + 80 * i, strip) for i in range(4)] == list(COLOURS.values())


class Heard:
    """A plugin that keeps every event the node publishes."""

    def __init__(self):
        self.events = []

    @hookimpl
    def pyrostage_event(self, stage, source, name, data):
        self.events.append((source, name, data))


def test_a_buzz_is_published_as_an_event(pyrostage_node):
    heard = Heard()
    node = pyrostage_node(plugins=["quiz", heard], mode="quiz")
    node.press("third")
    buzzed = {"button": "third", "team": NAMES["third"]}
    assert wait_for(lambda: ("quiz", "buzzed", buzzed) in heard.events)


def test_a_locked_out_press_publishes_no_buzz(pyrostage_node):
    heard = Heard()
    node = pyrostage_node(plugins=["quiz", heard], mode="quiz")
    node.press("main")
    node.press("second")
    node.call("award", 1)  # events arrive in order: once award's is in, both presses' are
    wait_for(lambda: any(name == "awarded" for _, name, _ in heard.events))
    assert [d["button"] for _, name, d in heard.events if name == "buzzed"] == ["main"]


def test_winner_names_every_team_sharing_the_lead(pyrostage_node):
    node = pyrostage_node(mode="quiz")
    node.call("set_score", "second", 5)
    node.call("set_score", "fourth", 5)
    assert node.call("winner") == [NAMES["second"], NAMES["fourth"]]


BAD_CALLS = [
    (("award", 2), LookupError, "no team has buzzed"),
    (("award", "two"), TypeError, "points"),
    (("award", 5000), ValueError, "points"),
    (("team", "fifth", "Owls"), ValueError, "main"),
    (("team", "main", ""), ValueError, "name"),
    (("team", "main", "x" * 41), ValueError, "name"),
    (("question", "bell\x07"), ValueError, "text"),
]


def test_bad_calls_say_what_is_accepted_and_change_nothing(pyrostage_node):
    node = pyrostage_node(mode="quiz")
    before = node.call("teams"), node.status()["state"]["quiz"]
    for args, error, words in BAD_CALLS:
        with pytest.raises(error, match=words):
            node.call(*args)
    assert (node.call("teams"), node.status()["state"]["quiz"]) == before


def test_the_mode_declares_its_buttons(pyrostage_node):
    node = pyrostage_node(mode="quiz")
    with pytest.raises(LookupError, match="fourth"):
        node.press("fifth")


def test_a_power_cut_loses_no_acknowledged_buzz(pyrostage_node_process):
    node = pyrostage_node_process(mode="quiz")
    node.press("fourth")
    assert node.restart(kill=True).call("buzzed") == {"button": "fourth",
                                                        "team": NAMES["fourth"]}
