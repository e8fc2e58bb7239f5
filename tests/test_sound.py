"""Race sounds: the mixer is open only around a race, never with ``sound = false``, and a node
without a sound device stays quiet and keeps racing. (SDL's ``dummy`` audio driver, which
conftest selects, is a working mixer with no speaker.)"""

from __future__ import annotations

import threading

import pygame
import pytest
from conftest import lookup_proxy, spawn_node, wait_for

from engine.hardware.sound import NAMES, TONES, samples


def sound(p) -> dict:
    return p.status()["display"]["sound"]


def race(p, ahead: float = 0.3, title: str = "Reds") -> float:
    """Arm a race ``ahead`` seconds from now on the node's own clock; returns the instant."""
    p.switch("timer")
    at = p.clock()["monotonic"] + ahead
    p.call("start_at", at, title)
    return at


def test_the_mixer_opens_for_a_race_and_closes_once_quiet(start_node):
    node = start_node()
    node.node.sound.idle = 0.3  # seconds of quiet before it closes (a node waits longer)
    with node.proxy() as p:
        assert sound(p) == {"enabled": True, "open": False, "available": None, "error": None,
                            "played": 0}
        race(p)
        wait_for(lambda: sound(p)["played"] >= 2)  # a countdown tick and go
        assert sound(p)["available"] is True and sound(p)["error"] is None
        wait_for(lambda: not sound(p)["open"])
        assert pygame.mixer.get_init() is None
        assert not [t for t in threading.enumerate() if t.name == "pyrostage-sound-idle"]

        p.press()
        p.call("place", 1)  # the winner's sound opens it again, for a moment
        wait_for(lambda: sound(p)["played"] >= 3)
        wait_for(lambda: not sound(p)["open"])
        assert node.node.sound.opened == 2


def test_sound_off_never_opens_the_mixer(start_node):
    node = start_node(sound=False)
    with node.proxy() as p:
        race(p, ahead=0.2)
        wait_for(lambda: p.call("running"))
        p.press()
        p.call("place", 1)
        p.snapshot()  # the main loop has passed since: any sound job would have run
        assert sound(p) == {"enabled": False, "open": False, "available": None, "error": None,
                            "played": 0}
        assert pygame.mixer.get_init() is None
    assert node.node.stage.play("go") is False


def test_only_known_sounds_can_be_played(start_node):
    stage = start_node().node.stage
    with pytest.raises(LookupError, match="tick, go, winner, place"):
        stage.play("fanfare")
    with pytest.raises(TypeError, match="string"):
        stage.play(3)


@pytest.mark.parametrize("env", [
    {"SDL_AUDIODRIVER": "no-such-driver"},
    # ALSA prints several lines to stderr from C when its card is missing
    {"SDL_AUDIODRIVER": "alsa", "ALSA_CARD": "pyrostage-no-such-card"},
])
def test_a_node_without_audio_stays_quiet_and_races_on(tmp_path, name_server, env):
    with spawn_node(tmp_path, name_server, "red", env=env):
        p = wait_for(lambda: lookup_proxy(name_server, "red"), timeout=30)
        with p:
            race(p, ahead=0.3)
            report = wait_for(lambda: (s := sound(p))["error"] and s)
            assert report["available"] is False and report["open"] is False
            wait_for(lambda: p.call("running"))
            assert p.press() is True
            p.call("place", 1)
            assert p.call("race_info")["place"] == 1 and p.call("elapsed") > 0
            assert sound(p)["played"] == 0
    log = (tmp_path / "red.log").read_text()
    assert "ALSA lib" not in log and "cannot find card" not in log
    assert log.count("no sound on this node") == 1  # said once, in one line


@pytest.mark.parametrize("channels", [1, 2])
def test_tones_are_16_bit_samples_of_the_right_length(channels):
    for name in NAMES:
        seconds = sum(length for _, length in TONES[name])
        data = samples(name, 22050, channels)
        assert len(data) == pytest.approx(2 * channels * 22050 * seconds, abs=2 * channels * 4)
