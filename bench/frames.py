"""P3, P8: a call or a button edge until the frame showing it is on screen, read from the
node's own trace (``PYROSTAGE_TRACE=1``: each frame's change ticket and the time it was shown);
P6: frames drawn and CPU while idle and while animating, next to a naive 60 fps loop."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import Pyro4

from .harness import (
    FRAME,
    ROOT,
    Cluster,
    Row,
    Run,
    cluster,
    cpu_seconds,
    env,
    frame_of,
    ms,
    pct,
    ratio_text,
    spread,
)

IDLE_CPU = 0.5
"""Most CPU (percent) an idle node may use."""
RUNNING = 0.3
"""Most CPU a node drawing an animation may use, as a fraction of the naive loop's."""


def shown_after(p: Pyro4.Proxy, act: Callable[[], float], count: int,
                gap: tuple[float, float]) -> list[float]:
    """Seconds from each act (returning its start, stage clock) to the frame showing it."""
    starts: list[tuple[float, int]] = []
    ticket = p.status()["trace"]["change"]
    for _ in range(count):
        time.sleep(random.uniform(*gap))
        ticket += 1
        starts.append((act(), ticket))
    time.sleep(0.2)
    status = p.status()
    if status["trace"]["change"] != ticket:
        raise RuntimeError(f"expected change ticket {ticket}, the node is at "
                           f"{status['trace']['change']}: something else changed it")
    out = []
    for t0, change in starts:
        shown = frame_of(status, change)
        if shown is None:
            raise RuntimeError(f"no frame in the trace showed change {change}")
        out.append(shown - t0)
    return out


def pressing(p: Pyro4.Proxy, pressed: list[float]) -> Callable[[], float]:
    def press() -> float:
        t0 = time.monotonic()
        p.press("main")
        pressed.append(t0)
        return t0
    return press


def press_times(p: Pyro4.Proxy, seq: int) -> list[float]:
    """The edge instants (stage clock) of the presses logged after event ``seq``."""
    records = p.events_since(seq)["events"]
    return [float(r["data"]["at"]) for r in records if r["name"] == "button_pressed"]


def latency_rows(run: Run, only: set[str]) -> list[Row]:
    batch = run.n(60, 15)
    batches = run.n(5, 1)
    rows = []
    with cluster(run.tmp) as c:
        c.start_node("color", "1280x720", "--mode", "colorsquare")
        c.start_node("score", "1280x720", "--mode", "scoreboard")
        uris = c.wait()
        color, score = Pyro4.Proxy(uris["color"]), Pyro4.Proxy(uris["score"])
        found: dict[str, list[float]] = {}

        def call(p: Pyro4.Proxy, *args: Any) -> Callable[[], float]:
            def act() -> float:
                t0 = time.monotonic()  # one machine: the stage clock is this clock
                p.call(*args)
                return t0
            return act

        for _ in range(batches):
            if "P3" in only:
                found.setdefault("set_color", []).extend(shown_after(
                    color, call(color, "set_color", [random.randrange(256), 0, 0]), batch,
                    (0.05, 0.1)))
                found.setdefault("add_points", []).extend(shown_after(
                    score, call(score, "add_points", 1), batch, (0.2, 0.3)))
            if "P8" in only:
                seq = color.events_since(0)["seq"]
                pressed: list[float] = []
                late = shown_after(color, pressing(color, pressed), batch, (0.25, 0.35))
                edges = press_times(color, seq)
                if len(edges) != len(late):
                    raise RuntimeError(f"{len(late)} presses, {len(edges)} logged")
                # from the edge itself (the button's instant), not from our call's start
                found.setdefault("press", []).extend(
                    d - (e - t0) for d, e, t0 in zip(late, edges, pressed, strict=True))
        for p in (color, score):
            p._pyroRelease()
    for pid, key, what in (("P3", "set_color", "call set_color -> frame shown"),
                           ("P3", "add_points", "call add_points -> first frame"),
                           ("P8", "press", "button edge -> frame shown")):
        if key not in found:
            continue
        samples = found[key]
        p50, p99 = pct(samples, 0.5), pct(samples, 0.99)
        rows.append(Row(pid, what, f"p50 {ms(p50)}, p99 {ms(p99)}", f"1 frame: {ms(FRAME)}",
                        f"p99 {p99 / FRAME:.2f} frames", "p99 <= 1 frame", p99 <= FRAME,
                        {"samples": samples, "p50": p50, "p99": p99, "max": max(samples)},
                        f"{what}: {len(samples)} samples, max {ms(max(samples))}"))
    return rows


def naive(what: str, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(ROOT / "bench" / "naive.py"), what,
                             str(seconds)], env=env(), stdout=subprocess.PIPE)


def side_by_side(c: Cluster, p: Pyro4.Proxy, pid: int, what: str, seconds: float,
                 during: Callable[[], None] | None = None) -> dict[str, float]:
    """The node's frames and CPU over ``seconds`` next to the naive loop's, run together."""
    ref = naive(what, seconds)
    time.sleep(0.3)  # its start-up (imports, font) is not its loop
    frames0 = p.status()["display"]["frames"]
    cpu0, ref0, t0 = cpu_seconds(pid), cpu_seconds(ref.pid), time.monotonic()
    deadline = t0 + seconds - 0.6
    while time.monotonic() < deadline:
        if during is not None:
            during()
        time.sleep(0.5 if during is not None else max(0.0, deadline - time.monotonic()))
    cpu1, ref1, t1 = cpu_seconds(pid), cpu_seconds(ref.pid), time.monotonic()
    frames1 = p.status()["display"]["frames"]
    out, _ = ref.communicate(timeout=seconds + 30)
    took = t1 - t0
    return {"frames": (frames1 - frames0) / took, "cpu": (cpu1 - cpu0) / took * 100,
            "naive_fps": int(out.split()[-1]) / seconds, "naive_cpu": (ref1 - ref0) / took * 100}


def idle_rows(run: Run, only: set[str]) -> list[Row]:
    seconds = run.n(10, 3)
    reps = run.n(3, 1)
    rows = []
    with cluster(run.tmp) as c:
        c.start_node("idle", "1280x720", "--mode", "colorsquare")
        c.start_node("timer", "1280x720", "--mode", "timer")
        c.start_node("score", "1280x720", "--mode", "scoreboard")
        uris = c.wait()
        idle, timer, score = (Pyro4.Proxy(uris[n]) for n in ("idle", "timer", "score"))
        time.sleep(1.0)  # settled: the first frames are drawn
        f0 = idle.status()["display"]["frames"]
        pid = c.nodes["idle"].pid
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        frames = idle.status()["display"]["frames"] - f0
        cpu = (cpu1 - cpu0) / (t1 - t0) * 100
        rows.append(Row("P6", f"idle {seconds} s", f"{frames} frames, {cpu:.2f} % CPU",
                        "-", "-", f"0 frames, <= {IDLE_CPU} % CPU",
                        frames == 0 and cpu <= IDLE_CPU,
                        {"frames": frames, "cpu_percent": cpu, "seconds": t1 - t0}))
        timer.call("timer.start")
        runs = [side_by_side(c, timer, c.nodes["timer"].pid, "timer", seconds)
                for _ in range(reps)]
        timer.call("timer.stop")
        rows.append(running_row("timer running", runs, seconds))
        step = [0]

        def add() -> None:
            step[0] += 1
            score.call("add_points", 37 if step[0] % 2 else -30)

        runs = [side_by_side(c, score, c.nodes["score"].pid, "scoreboard", seconds, add)
                for _ in range(reps)]
        rows.append(running_row("scoreboard count-up", runs, seconds))
        for p in (idle, timer, score):
            p._pyroRelease()
    return rows


def running_row(what: str, runs: list[dict[str, float]], seconds: float) -> Row:
    ratios = [r["cpu"] / r["naive_cpu"] for r in runs]
    frames = [r["frames"] / r["naive_fps"] for r in runs]
    med = spread(ratios)[0]
    cpu, ref = spread([r["cpu"] for r in runs])[0], spread([r["naive_cpu"] for r in runs])[0]
    fps, ref_fps = spread([r["frames"] for r in runs])[0], spread([r["naive_fps"] for r in runs])[0]
    return Row("P6", f"{what} {seconds} s (CPU)", f"{fps:.0f} fps, {cpu:.1f} % CPU",
               f"naive: {ref_fps:.0f} fps, {ref:.1f} %", ratio_text(ratios),
               f"CPU <= {RUNNING}x naive", med <= RUNNING,
               {"runs": runs, "cpu_ratios": ratios, "frame_ratios": frames},
               f"{what}: frames {ratio_text(frames)} of the naive loop's")
