"""Where a node spends its time under one load, sampled by py-spy from outside the process.

    python -m bench.profile add_points [SECONDS]    # a stream of add_points (P2, P4)
    python -m bench.profile set_color | timer | count_up | press
    python -m bench.profile --gil add_points           # only samples holding the GIL
    python -m bench.profile --writers 8 add_points     # eight callers at once (P4)

Prints the functions with the most samples while not asleep, own and including callees:
of every thread for call loads, of the main thread (the one that draws) for timer/count_up.
Needs ``pip install py-spy`` (and ptrace rights: root, or kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import Pyro4

from .harness import cluster

GIL: list[str] = []


def pause(seconds: float) -> bool:
    time.sleep(seconds)
    return False


LOADS = {
    "add_points": ("scoreboard", lambda p, i: p.call("add_points", 1)),
    "set_color": ("colorsquare", lambda p, i: p.call("set_color", [i % 256, 0, 0])),
    "timer": ("timer", None),
    "count_up": ("scoreboard", lambda p, i: pause(0.4) or p.call("add_points", 40)),
    "press": ("colorsquare", lambda p, i: pause(0.25) or p.press("main")),
}


def top(folded: Path, n: int = 25, main_only: bool = False) -> None:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if main_only and "Node.serve" not in stack:
            continue
        if "wait" in stack.rsplit(";", 1)[-1]:
            continue  # asleep (py-spy counts a wait with a timeout as active)
        frames = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")")
                  for f in stack.split(";")[1:]]  # the first is the thread
        c = int(count)
        samples += c
        if frames:
            own[frames[-1]] += c
        for f in set(frames):
            total[f] += c
    print(f"{samples} samples")
    for title, counter in (("own", own), ("total", total)):
        print(f"\n-- {title}")
        for name, c in counter.most_common(n):
            print(f"{c / samples * 100:5.1f}%  {name}")


def main() -> None:
    if "--gil" in sys.argv:  # only threads holding the GIL: where the interpreter's time goes
        sys.argv.remove("--gil")
        GIL.append("--gil")
    writers = 1
    if "--writers" in sys.argv:
        at = sys.argv.index("--writers")
        writers = int(sys.argv[at + 1])
        del sys.argv[at:at + 2]
    load = sys.argv[1] if len(sys.argv) > 1 else "add_points"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    mode, step = LOADS[load]
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    tmp = Path(tempfile.mkdtemp(prefix="pyrostage-profile-"))
    with cluster(tmp) as c:
        c.start_node("prof", "1280x720", "--mode", mode)
        uri = c.wait()["prof"]
        stop = threading.Event()
        calls = [0]

        def drive() -> None:
            with Pyro4.Proxy(uri) as p:
                if step is None:
                    p.call("timer.start")
                    stop.wait()
                    return
                while not stop.is_set():
                    step(p, calls[0])
                    calls[0] += 1

        workers = [threading.Thread(target=drive) for _ in range(writers)]
        for worker in workers:
            worker.start()
        out = tmp / "folded.txt"
        subprocess.run([spy, "record", "--pid", str(c.nodes["prof"].pid), "--duration",
                        str(int(seconds)), "--rate", "500", "--format", "raw", "--output",
                        str(out), "--nonblocking", *GIL], check=True, capture_output=True)
        stop.set()
        for worker in workers:
            worker.join()
        print(f"{load}: {calls[0]} calls in {seconds:g} s")
        top(out, main_only=load in ('timer', 'count_up'))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
