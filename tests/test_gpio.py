"""Buttons and the bell on real pins, as far as a test can go: a real node with the ``rpi``
backend talking to a faithful fake ``RPi.GPIO`` (the only fake), driven like wiring would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import RunningNode, pixel, wait_for
from fake_gpio import FakeGPIO, install

from engine import Behaviour, Mode, command, hookimpl
from engine.base.config import load
from engine.core.plugins import get_plugin_manager
from engine.hardware.gpio import ButtonPin, Buttons, Debouncer, Pins, RpiBackend

RED, GREEN, BLUE = [255, 0, 0], [0, 255, 0], [0, 0, 255]
MAIN, SECOND, BELL = 14, 15, 17
WINDOW = 0.2
BUTTONS = {
    "main": {"pin": MAIN, "pull": "up", "edge": "falling"},
    "second": {"pin": SECOND, "pull": "down", "edge": "rising"},
}


@pytest.fixture
def gpio() -> Iterator[FakeGPIO]:
    with install() as fake:
        yield fake


@pytest.fixture
def start_pi(gpio: FakeGPIO, start_node: Callable[..., RunningNode]) -> Callable[..., RunningNode]:
    """A node on the ``rpi`` backend (the fake is in place before and removed after it)."""

    def start(**overrides: Any) -> RunningNode:
        settings: dict[str, Any] = dict(gpio="rpi", debounce_ms=int(WINDOW * 1000),
                                        buttons=BUTTONS, outputs={"bell": BELL})
        return start_node(**{**settings, **overrides})

    return start


@pytest.fixture
def pi(start_pi: Callable[..., RunningNode]) -> RunningNode:
    return start_pi()


@pytest.fixture
def proxy(pi: RunningNode) -> Iterator[Any]:
    with pi.proxy() as p:
        yield p


class PressSpy:
    """A throwaway third-party plugin: where and with which timestamp presses reach plugins."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float, str]] = []

    @hookimpl
    def pyrostage_button_pressed(self, button: str, at: float, mode: str) -> None:
        self.seen.append((button, at, threading.current_thread().name))


def settled(gpio: FakeGPIO, proxy: Any) -> Any:
    """Wait until every edge so far went through its callback and the main loop applied the
    presses it queued (a snapshot is served after the queued presses), then the screen."""
    gpio.wait_idle()
    return proxy.snapshot()


def press(gpio: FakeGPIO, pin: int = MAIN) -> None:
    """A clean press and release of a pull-up button."""
    gpio.drive(pin, gpio.LOW)
    gpio.release(pin)


def rearmed(node: RunningNode) -> None:
    """Wait (a hang guard) until no button of the node is held: every pin has read released
    for the settle time, so its next press counts."""
    wait_for(lambda: node.node.pins.held() == [], timeout=10)


def release_watchers() -> int:
    return sum(t.name == "pyrostage-gpio-release" for t in threading.enumerate())


# -- the pins a node claims ---------------------------------------------------------------


def test_node_claims_its_pins_the_way_the_config_says(gpio, proxy):
    assert gpio.claimed() == {MAIN: "in", SECOND: "in", BELL: "out"}
    assert gpio.pull(MAIN) == gpio.PUD_UP and gpio.pull(SECOND) == gpio.PUD_DOWN
    assert gpio.watched() == {MAIN: gpio.FALLING, SECOND: gpio.RISING}
    assert gpio.getmode() == gpio.BCM
    assert gpio.level(BELL) == gpio.LOW
    report = proxy.status()["gpio"]
    assert report["backend"] == "rpi" and report["presses"] == 0
    assert report["buttons"] == ["main", "second"] and report["outputs"] == ["bell"]


def test_backend_never_asks_rpi_gpio_to_debounce(gpio, pi):
    """rpi-lgpio's bouncetime waits for a stable signal: every press would come late."""
    detections = gpio.calls_to("add_event_detect")
    assert len(detections) == 2
    for args, kwargs in detections:
        assert len(args) == 2 and kwargs["bouncetime"] is None


# -- presses --------------------------------------------------------------------------------


def test_falling_edge_on_gpio14_steps_the_colour(gpio, proxy):
    proxy.call("set_color", "red")
    gpio.drive(MAIN, gpio.LOW)
    assert pixel(settled(gpio, proxy)) == (0, 255, 0)
    assert proxy.call("get_color") == GREEN
    assert proxy.status()["gpio"]["presses"] == 1
    gpio.release(MAIN)  # letting go is a rising edge: not watched, not a press
    assert pixel(settled(gpio, proxy)) == (0, 255, 0)
    assert proxy.status()["gpio"]["presses"] == 1


def test_a_bounce_burst_is_one_press_and_the_next_press_counts(gpio, proxy):
    proxy.call("set_color", "red")
    gpio.bounce(MAIN, edges=5, within=0.05)
    gpio.wait_idle()
    burst = gpio.reported(MAIN)
    # RPi.GPIO reported all five (nobody asked it to debounce) ...
    assert len(burst) == 5
    assert burst[-1].driven_at - burst[0].driven_at < WINDOW, "machine too busy for the burst"
    # ... and the node counted one press: one colour step
    assert pixel(settled(gpio, proxy)) == (0, 255, 0)
    assert proxy.call("get_color") == GREEN
    assert proxy.status()["gpio"]["presses"] == 1

    gpio.release(MAIN)
    first = burst[0].returned_at  # the press was timestamped before its callback returned
    assert first is not None
    time.sleep(max(0.0, first + WINDOW + 0.05 - time.monotonic()))
    press(gpio)  # just after the window: a new press
    assert pixel(settled(gpio, proxy)) == (0, 0, 255)
    assert proxy.call("get_color") == BLUE
    assert proxy.status()["gpio"]["presses"] == 2


def test_holding_the_button_then_letting_go_is_one_press(gpio, pi, proxy):
    proxy.call("set_color", "red")
    gpio.drive(MAIN, gpio.LOW)  # pressed, and held down ...
    assert pixel(settled(gpio, proxy)) == (0, 255, 0)
    time.sleep(WINDOW + 0.1)  # ... for longer than the debounce window
    gpio.bounce(MAIN, edges=3, within=0.01, level=gpio.HIGH)  # let go: the contact chatters
    assert pixel(settled(gpio, proxy)) == (0, 255, 0)
    assert len(gpio.reported(MAIN)) == 3  # the chatter's falling edges did reach the node
    rearmed(pi)
    assert proxy.status()["gpio"]["presses"] == 1
    assert proxy.call("get_color") == GREEN


def test_a_long_hold_with_a_chattering_release_adds_the_easter_egg_once(gpio, pi, proxy):
    proxy.switch("scoreboard")
    proxy.call("easter_egg.enable")
    assert proxy.call("set_score", 0) == 0
    gpio.bounce(MAIN, edges=3, within=0.02)  # pressed, bouncing as it closes ...
    settled(gpio, proxy)
    assert proxy.call("get_score") == 10
    time.sleep(2 * WINDOW)  # ... held down well past the window ...
    gpio.bounce(MAIN, edges=5, within=0.05, level=gpio.HIGH)  # ... and a long chatter on release
    settled(gpio, proxy)
    rearmed(pi)
    assert proxy.call("get_score") == 10
    assert proxy.status()["gpio"]["presses"] == 1
    press(gpio)  # the next press, once the pin has settled, counts as usual
    settled(gpio, proxy)
    assert proxy.call("get_score") == 20


def test_a_double_tap_with_a_clean_release_between_counts_twice(gpio, pi, proxy):
    proxy.call("set_color", "red")
    press(gpio)
    settled(gpio, proxy)
    (first,) = gpio.reported(MAIN)
    assert first.returned_at is not None
    time.sleep(max(0.0, first.returned_at + WINDOW + 0.02 - time.monotonic()))
    rearmed(pi)  # a hang guard: released since the first tap, it is armed long before now
    press(gpio)
    assert pixel(settled(gpio, proxy)) == (0, 0, 255)
    assert proxy.status()["gpio"]["presses"] == 2


def test_a_stuck_button_is_one_press_costs_no_cpu_and_works_once_freed(gpio, pi, proxy,
                                                                        monkeypatch):
    proxy.call("set_color", "red")
    reads: list[float] = []
    real_input = gpio.input

    def counted_input(channel: int) -> int:
        reads.append(time.monotonic())
        return real_input(channel)

    monkeypatch.setattr(gpio, "input", counted_input)
    gpio.drive(MAIN, gpio.LOW)  # jammed down
    settled(gpio, proxy)
    assert pi.node.pins.held() == ["main"]
    time.sleep(WINDOW + 0.05)
    gpio.bounce(MAIN, edges=4, within=0.02, level=gpio.LOW)  # a jammed contact crackles
    settled(gpio, proxy)
    assert len(gpio.reported(MAIN)) == 4  # falling edges, past the window, still one press
    start, before = time.monotonic(), len(reads)
    time.sleep(0.5)
    polls = len(reads) - before
    elapsed = time.monotonic() - start
    assert 0 < polls <= 100 * elapsed  # it keeps reading the pin, gently: no spinning
    assert pi.node.pins.held() == ["main"]
    assert proxy.status()["gpio"]["presses"] == 1
    assert proxy.call("get_color") == GREEN
    assert release_watchers() == 1

    gpio.release(MAIN)  # freed
    rearmed(pi)
    press(gpio)
    assert pixel(settled(gpio, proxy)) == (0, 0, 255)
    assert proxy.status()["gpio"]["presses"] == 2


def test_edges_reach_plugins_on_the_main_loop_with_the_callback_timestamp(gpio, start_pi):
    pm, _ = get_plugin_manager()
    spy = PressSpy()
    pm.register(spy, name="press-spy")
    node = start_pi(pm=pm)
    with node.proxy() as proxy:
        gpio.drive(MAIN, gpio.LOW)
        gpio.drive(SECOND, gpio.HIGH)  # a pull-down button wired to 3V3: a rising edge
        settled(gpio, proxy)
    assert [button for button, _, _ in spy.seen] == ["main", "second"]
    for (_, at, thread), edge in zip(spy.seen, gpio.reported(MAIN) + gpio.reported(SECOND),
                                     strict=True):
        assert thread == node.thread.name  # the node's main loop, never the GPIO thread
        assert edge.callback_threads == [gpio.edge_thread_name]
        assert edge.fired_at is not None and edge.returned_at is not None
        assert edge.fired_at <= at <= edge.returned_at  # taken inside the GPIO callback


class FrozenClock:
    """The node's monotonic clock, held still while the test needs an exact instant."""

    def __init__(self) -> None:
        self.frozen: float | None = None

    def __call__(self) -> float:
        return time.monotonic() if self.frozen is None else self.frozen


def slow_plugin(entered: threading.Event, go_on: threading.Event) -> object:
    """A throwaway plugin whose ``stall.hold()`` keeps the engine busy until ``go_on``."""

    class Stall(Behaviour):
        name = "stall"

        @command
        def hold(self) -> None:
            """Hold the engine (a slow plugin command)."""
            entered.set()
            go_on.wait(5)

    class Plugin:
        def __init__(self) -> None:
            self.stopped: list[tuple[float, str, str]] = []

        @hookimpl
        def register_commands(self, register: Callable[[type[Behaviour]], None]) -> None:
            register(Stall)

        @hookimpl
        def pyrostage_event(self, source: str, name: str, data: dict[str, Any]) -> None:
            if name == "timer_stopped":
                self.stopped.append((data["elapsed"], data["source"],
                                     threading.current_thread().name))

    return Plugin()


def test_timer_stops_at_the_gpio_edge_not_when_the_loop_handles_it(gpio, start_pi):
    entered, go_on = threading.Event(), threading.Event()
    pm, _ = get_plugin_manager()
    plugin = slow_plugin(entered, go_on)
    pm.register(plugin, name="stall")
    clock = FrozenClock()
    node = start_pi(pm=pm, clock=clock)
    with node.proxy() as proxy, node.proxy() as other:
        proxy.switch("timer")
        clock.frozen = start = time.monotonic()  # the timer starts at exactly this instant
        proxy.call("start")
        clock.frozen = None
        assert proxy.call("running") is True

        holder = threading.Thread(target=other.call, args=("stall.hold",))
        holder.start()
        assert entered.wait(10)  # the engine is busy: the press will be applied late
        gpio.drive(MAIN, gpio.LOW)
        gpio.wait_idle()
        time.sleep(0.3)  # the loop gets round to the press at least 0.3 s after the edge
        go_on.set()
        holder.join(10)

        wait_for(lambda: proxy.call("running") is False)
        elapsed = proxy.call("elapsed")
    (edge,) = gpio.reported(MAIN)
    assert edge.fired_at is not None and edge.returned_at is not None
    assert abs(elapsed - (edge.fired_at - start)) <= 0.005
    assert edge.fired_at - start <= elapsed <= edge.returned_at - start
    wait_for(lambda: plugin.stopped)  # events from a press go out on the main loop, soon after
    assert plugin.stopped == [(elapsed, "button", node.thread.name)]  # type: ignore[attr-defined]


def test_unknown_button_is_refused_and_the_node_carries_on(gpio, proxy):
    with pytest.raises(LookupError, match=r"unknown button 'nope'.*main, second"):
        proxy.press("nope")
    press(gpio)
    settled(gpio, proxy)
    assert proxy.status()["gpio"]["presses"] == 1
    assert proxy.press("second") is True


def test_debounce_window_is_per_button_and_covers_press_over_pyro(gpio, start_pi):
    node = start_pi(debounce_ms=60_000)
    with node.proxy() as proxy:
        proxy.call("set_color", "red")
        assert proxy.press() is True  # the facade's press() takes the same debounce
        press(gpio)  # the pin falls within the window of that press: the same press
        assert pixel(settled(gpio, proxy)) == (0, 255, 0)
        assert proxy.press("second") is True  # another button has its own window
        assert proxy.status()["gpio"]["presses"] == 2


def test_debouncer_treats_out_of_order_timestamps_as_one_press():
    """A pin edge and a press() over Pyro race: the later one may carry the earlier time."""
    d = Debouncer(0.2)
    assert d.accept("main", 100.0)
    assert not d.accept("main", 99.95)
    assert not d.accept("main", 100.15)
    assert d.accept("main", 100.25)


# -- the bell -------------------------------------------------------------------------------


def test_ring_raises_the_bell_then_lowers_it_without_blocking(gpio, proxy):
    proxy.ring(5)  # returns at once: it rings in the background
    wait_for(lambda: gpio.level(BELL) == gpio.HIGH)
    assert proxy.call("set_color", "blue") == BLUE  # the node answers while the bell rings
    assert gpio.level(BELL) == gpio.HIGH
    proxy.ring(0.05)  # ringing again restarts the pulse with the new length
    wait_for(lambda: gpio.level(BELL) == gpio.LOW)
    assert [level for _, level in gpio.writes[BELL]] == [0, 1, 1, 0]


def test_ring_out_of_range_is_refused(gpio, proxy):
    with pytest.raises(ValueError, match="seconds must be more than 0 and at most 30"):
        proxy.ring(0)
    with pytest.raises(ValueError, match="seconds"):
        proxy.ring(31)
    with pytest.raises(TypeError, match="seconds"):
        proxy.ring("loud")
    assert proxy.call("get_color")
    assert [level for _, level in gpio.writes[BELL]] == [0]


# -- releasing the pins ---------------------------------------------------------------------


def test_pins_are_released_when_the_node_stops(gpio, pi):
    with pi.proxy() as proxy:
        proxy.ring(10)
        wait_for(lambda: gpio.level(BELL) == gpio.HIGH)
        gpio.drive(MAIN, gpio.LOW)  # held down as the node stops: its watcher is reading it
        settled(gpio, proxy)
    assert pi.node.pins.held() == ["main"] and release_watchers() == 1
    pi.stop()
    assert release_watchers() == 0
    assert gpio.claimed() == {} and gpio.watched() == {}
    assert gpio.cleanups and sorted(gpio.cleanups[-1] or ()) == [MAIN, SECOND, BELL]
    assert [level for _, level in gpio.writes[BELL]][-1] == gpio.LOW  # silenced first
    gpio.release(MAIN)
    gpio.drive(MAIN, gpio.LOW)  # nobody listens any more
    gpio.wait_idle()
    assert len(gpio.reported(MAIN)) == 1  # the one from before the stop


def test_a_bad_pin_in_the_config_fails_clearly_and_claims_nothing(gpio, start_pi):
    clash = {"main": {"pin": MAIN}, "other": {"pin": MAIN}}
    with pytest.raises(RuntimeError, match=r"button 'other' on GPIO14: Conflicting edge"):
        start_pi(buttons=clash)
    assert gpio.claimed() == {}
    with pytest.raises(ValueError, match=r"output 'bell' on GPIO99: .*invalid"):
        start_pi(outputs={"bell": 99})
    assert gpio.claimed() == {}


def test_the_release_settle_time_comes_from_the_config_and_is_checked(gpio, tmp_path):
    file = tmp_path / "pyrostage.toml"
    file.write_text("[gpio]\nrelease_ms = 80\n")
    assert load(file).release_ms == 80
    assert load(tmp_path / "pyrostage.toml", release_ms=0).release_ms == 0
    buttons = Buttons([], WINDOW, lambda button, at, done: None)
    with pytest.raises(ValueError, match=r"release_ms must be between 0 and 5000, got -10"):
        Pins(RpiBackend(), buttons, [ButtonPin("main", MAIN)], {}, release=-0.01)
    assert gpio.claimed() == {}


# -- without pins ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sim", "none"])
def test_press_over_pyro_works_without_pins(start_node, backend):
    node = start_node(gpio=backend, debounce_ms=int(WINDOW * 1000))
    with node.proxy() as proxy:
        proxy.call("set_color", "red")
        assert proxy.press() is True
        assert pixel(proxy.snapshot()) == (0, 255, 0)
        time.sleep(WINDOW + 0.05)
        assert proxy.press("main") is True
        assert proxy.call("get_color") == BLUE
        status = proxy.status()["gpio"]
        assert status["backend"] == backend and status["presses"] == 2
        assert release_watchers() == 0  # no levels to read: no watcher thread
        with pytest.raises(LookupError, match="this node has: main"):
            proxy.press("nope")
        with pytest.raises(TypeError, match="button must be a string"):
            proxy.press(3)
        assert proxy.call("get_color") == BLUE


def test_a_press_inside_the_window_is_swallowed(start_node):
    node = start_node(gpio="sim", debounce_ms=60_000)
    with node.proxy() as proxy:
        proxy.call("set_color", "red")
        assert proxy.press() is True
        assert proxy.press() is False
        assert proxy.call("get_color") == GREEN
        assert proxy.status()["gpio"]["presses"] == 1


def test_ring_without_pins_does_not_break_anything(start_node):
    node = start_node(gpio="none")
    with node.proxy() as proxy:
        proxy.ring(0.05)
        assert proxy.call("get_color") is not None


# -- the fake itself keeps RPi.GPIO's contract --------------------------------------------


def test_fake_gpio_behaves_like_rpi_gpio(gpio):
    import RPi.GPIO as GPIO

    assert GPIO is gpio
    with pytest.raises(RuntimeError, match="setmode"):
        GPIO.setup(4, GPIO.IN)
    GPIO.setmode(GPIO.BCM)
    with pytest.raises(ValueError, match="different mode"):
        GPIO.setmode(GPIO.BOARD)
    with pytest.raises(RuntimeError, match="as an input first"):
        GPIO.add_event_detect(4, GPIO.FALLING)
    GPIO.setup(4, GPIO.IN, pull_up_down=GPIO.PUD_UP)
    assert GPIO.input(4) == GPIO.HIGH
    with pytest.raises(ValueError, match="Bouncetime must be greater than 0"):
        GPIO.add_event_detect(4, GPIO.FALLING, bouncetime=0)
    calls: list[tuple[str, int, str]] = []
    GPIO.add_event_detect(4, GPIO.FALLING, callback=lambda ch: calls.append(("a", ch, "")))
    GPIO.add_event_callback(4, lambda ch: calls.append(("b", ch, threading.current_thread().name)))
    with pytest.raises(RuntimeError, match="Conflicting edge detection"):
        GPIO.add_event_detect(4, GPIO.FALLING)
    with pytest.raises(RuntimeError, match="not been set up as an OUTPUT"):
        GPIO.output(4, GPIO.HIGH)
    gpio.drive(4, GPIO.LOW)
    gpio.wait_idle()
    assert calls[0][:2] == ("a", 4) and calls[1][:2] == ("b", 4)  # in order ...
    assert calls[1][2] == gpio.edge_thread_name  # ... on its own thread
    assert GPIO.input(4) == GPIO.LOW and GPIO.event_detected(4) and not GPIO.event_detected(4)
    GPIO.setup(5, GPIO.OUT, initial=GPIO.HIGH)
    assert GPIO.gpio_function(5) == GPIO.OUT and GPIO.input(5) == GPIO.HIGH
    GPIO.cleanup()
    assert gpio.claimed() == {} and gpio.getmode() is None


def test_fake_gpio_honours_bouncetime_like_rpi_gpio(gpio):
    """What the node would get if it passed bouncetime: the burst's first edge only."""
    gpio.setmode(gpio.BCM)
    gpio.setup(MAIN, gpio.IN, pull_up_down=gpio.PUD_UP)
    hits: list[int] = []
    gpio.add_event_detect(MAIN, gpio.FALLING, callback=hits.append, bouncetime=200)
    gpio.bounce(MAIN, edges=5, within=0.05)
    gpio.wait_idle()
    assert hits == [MAIN]
    assert len(gpio.edges) == 5 and len(gpio.reported(MAIN)) == 1


# -- press() when the main loop is busy -----------------------------------------------------


class Gate:
    """Shared between a test and its throwaway mode: when a frame or a press blocks."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.block_draw = False
        self.block_press = False
        self.pressed: list[str] = []


def sleepy_plugin(gate: Gate) -> object:
    """A throwaway mode whose next frame (or press) holds the main loop for up to 3 s."""

    class Sleepy(Mode):
        name = "sleepy"

        @command
        def stall(self) -> None:
            """Make the next frame take up to 3 s (a slow draw)."""
            gate.block_draw = True

        @command
        def count(self) -> int:
            """How many presses this mode has seen."""
            return len(gate.pressed)

        def draw(self, surface: Any) -> None:
            surface.fill((0, 0, 0))
            if gate.block_draw:
                gate.block_draw = False
                gate.entered.set()
                gate.release.wait(3)

        def on_button(self, button: str, at: float) -> None:
            gate.pressed.append(button)
            if gate.block_press:
                gate.block_press = False
                gate.entered.set()
                gate.release.wait(3)

    class Plugin:
        @hookimpl
        def register_modes(self, register: Callable[[type[Mode]], None]) -> None:
            register(Sleepy)

    return Plugin()


@pytest.fixture
def sleepy(start_node: Callable[..., RunningNode]) -> Iterator[tuple[Gate, Any]]:
    gate = Gate()
    pm, _ = get_plugin_manager()
    pm.register(sleepy_plugin(gate), name="sleepy")
    node = start_node(pm=pm, gpio="sim", mode="sleepy")
    with node.proxy() as proxy:
        proxy._pyroTimeout = 30  # a hang guard only
        yield gate, proxy
    gate.release.set()


def test_a_press_the_busy_loop_never_got_to_times_out_clearly_and_is_dropped(sleepy):
    gate, proxy = sleepy
    assert proxy.mode == "sleepy"
    proxy.call("stall")
    assert gate.entered.wait(10)  # the main loop is stuck in a frame
    with pytest.raises(TimeoutError) as info:
        proxy.press()
    message = str(info.value)
    assert "within 2 s" in message and "the press was dropped" in message
    gate.release.set()
    proxy.snapshot()  # the loop has recovered and gone through its queue
    assert gate.pressed == []  # the press never reached the mode ...
    assert proxy.call("count") == 0
    assert proxy.status()["gpio"]["presses"] == 0  # ... and is not counted
    assert proxy.press() is True  # the next press goes through as usual
    assert gate.pressed == ["main"]


def test_a_press_a_plugin_is_still_handling_says_it_may_yet_take_effect(sleepy):
    gate, proxy = sleepy
    gate.block_press = True
    with pytest.raises(TimeoutError) as info:
        proxy.press()
    assert "still being applied" in str(info.value)
    assert gate.entered.is_set()
    gate.release.set()
    wait_for(lambda: proxy.call("count") == 1)
    assert gate.pressed == ["main"]
    assert proxy.status()["gpio"]["presses"] == 1


# -- window keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(("backend", "counted"), [("sim", 1), ("none", 0)])
def test_only_the_sim_backend_turns_window_keys_into_presses(start_node, backend, counted):
    node = start_node(gpio=backend, debounce_ms=60_000)
    node.node._key(ord(" "), time.monotonic())  # what the window's key handler calls
    node.node._key(ord("1"), time.monotonic())  # 1 is main too: within the debounce window
    with node.proxy() as proxy:
        assert proxy.status()["gpio"]["presses"] == counted
        assert proxy.press() is (counted == 0)  # a key press opened the debounce window


def test_window_keys_are_not_buttons_on_real_pins(gpio, pi):
    pi.node._key(ord(" "), time.monotonic())
    pi.node._key(ord("1"), time.monotonic())
    with pi.proxy() as proxy:
        assert proxy.status()["gpio"]["presses"] == 0
        press(gpio)
        settled(gpio, proxy)
        assert proxy.status()["gpio"]["presses"] == 1


def test_the_node_uses_the_configured_release_time(start_pi):
    pi = start_pi(release_ms=80)
    assert pi.node.pins.release.settle == pytest.approx(0.08)
    with pi.proxy() as p:
        assert p.status()["gpio"]["held"] == []
