"""What every scenario shares: real processes on 127.0.0.1 (a name server, ``pyrostage serve``
nodes with dummy video, bare Pyro4 servers), paired repetitions and the row of the table.

Every figure is measured next to its reference in the same run and, where it varies, as the
median ratio over paired repetitions with its min-max, so a loaded 2-core machine moves both
sides alike.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import Pyro4
import Pyro4.errors

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.base.pyroconf import harden  # noqa: E402

FRAME = 1 / 60
"""One 60 Hz frame, the reference for every "shown on screen" figure."""
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Row:
    """One line of the table (a scenario may give several)."""

    id: str
    scenario: str
    figure: str
    reference: str
    ratio: str
    target: str
    passed: bool | None
    data: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Run:
    """How much to measure: ``quick`` is CI's smoke run (seconds per scenario)."""

    quick: bool
    tmp: Path
    soak: float = 600.0
    reps: int = 5

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full


# -- numbers ------------------------------------------------------------------------------

def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, min, max."""
    return statistics.median(values), min(values), max(values)


def ratio_text(values: list[float]) -> str:
    med, lo, hi = spread(values)
    return f"{med:.2f}x ({lo:.2f}-{hi:.2f})" if len(values) > 1 else f"{med:.2f}x"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} us"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "cpu_model": model or platform.processor(),
            "python": sys.version.split()[0], "platform": platform.platform(),
            "load_average": [round(x, 2) for x in load] if load else None,
            "pyro4": Pyro4.__version__}


# -- processes ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    out = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "PYTHONPATH": str(ROOT), **extra}
    out.pop("PYROSTAGE_HMAC_KEY", None)
    out.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled once, then cached
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time all threads of a process have used, in nanosecond resolution (Linux
    schedstat; /proc/PID/stat counts in 10 ms ticks, too coarse for one broadcast)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def pin(pid: int, cores: set[int]) -> None:
    """Keep every thread of process ``pid`` on ``cores``. ``os.sched_setaffinity(pid)`` moves
    only the thread whose id is ``pid`` (a process's main thread): the others, its Pyro
    daemon and workers among them, stay where they were. Threads started later inherit it
    from the thread that starts them, all pinned here; a second pass takes any started
    during the first."""
    for _ in range(2):
        for task in list(Path(f"/proc/{pid}/task").iterdir()):
            with suppress(OSError):  # a thread that ended meanwhile
                os.sched_setaffinity(int(task.name), cores)


def rss_mb(pid: int) -> float:
    """Resident memory in MB (Linux /proc)."""
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE / 1e6


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate our own processes (by handle), kill what does not go."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def proxy(uri: str, timeout: float = 10.0) -> Pyro4.Proxy:
    p = Pyro4.Proxy(uri)
    p._pyroTimeout = timeout
    return p


class Cluster:
    """A name server and the nodes one scenario needs, all stopped on ``close``."""

    def __init__(self, tmp: Path, trace: bool = True, extra_env: dict[str, str] | None = None):
        harden()
        self.tmp = Path(tempfile.mkdtemp(prefix="cluster-", dir=tmp))
        self.trace = trace
        self.extra_env = extra_env or {}  # for every process started (bench/slowdisk.py)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        self.ns_port = 0
        self.ns_proc: subprocess.Popen[bytes] | None = None

    def start_ns(self) -> int:
        for _ in range(3):
            port = free_port()
            proc = self.spawn([sys.executable, "-m", "engine", "ns", "--port", str(port)], "ns")
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                with suppress(Pyro4.errors.CommunicationError), \
                        proxy(f"PYRO:Pyro.NameServer@127.0.0.1:{port}", 2) as ns:
                    ns.ping()
                    self.ns_port, self.ns_proc = port, proc
                    return port
                time.sleep(0.05)
            self.procs.remove(proc)
            stop([proc])
        raise SystemExit(f"no name server could start:\n{self.log_tail('ns')}")

    def spawn(self, cmd: list[str], log: str, **extra_env: str) -> subprocess.Popen[bytes]:
        out = open(self.tmp / f"{log}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env(**self.extra_env, **extra_env), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self.procs.append(proc)
        return proc

    def log_tail(self, log: str) -> str:
        path = self.tmp / f"{log}.log"
        return path.read_text(errors="replace")[-1500:] if path.exists() else ""

    def node_cmd(self, name: str, size: str = "1280x720", *extra: str) -> list[str]:
        return [sys.executable, "-m", "engine", "serve", "--name", name, "--headless",
                "--gpio", "none", "--host", "127.0.0.1", "--ns-host", "127.0.0.1",
                "--ns-port", str(self.ns_port), "--state-dir", str(self.tmp / name),
                "--size", size, *extra]

    def start_node(self, name: str, size: str = "1280x720", *extra: str,
                   cmd: list[str] | None = None) -> subprocess.Popen[bytes]:
        if not self.ns_port:
            self.start_ns()
        trace = {"PYROSTAGE_TRACE": "1"} if self.trace else {}
        proc = self.spawn(cmd or self.node_cmd(name, size, *extra), name, **trace)
        self.nodes[name] = proc
        return proc

    def registered(self) -> dict[str, str]:
        with proxy(f"PYRO:Pyro.NameServer@127.0.0.1:{self.ns_port}", 5) as ns:
            found = ns.list(prefix="pyrostage.")
        return {k.removeprefix("pyrostage."): str(v) for k, v in found.items()}

    def wait(self, names: list[str] | None = None, timeout: float = 120) -> dict[str, str]:
        """The URIs of ``names`` (default: every node started) once all are registered."""
        wanted = set(names or self.nodes)
        deadline = time.monotonic() + timeout
        while True:
            found = self.registered()
            if wanted <= set(found):
                return {n: found[n] for n in wanted}
            for n in wanted:
                if self.nodes[n].poll() is not None:
                    raise SystemExit(f"node {n} exited:\n{self.log_tail(n)}")
            if time.monotonic() > deadline:
                raise SystemExit(f"nodes not registered: {sorted(wanted - set(found))}")
            time.sleep(0.1)

    def proxy(self, name: str, timeout: float = 10.0) -> Pyro4.Proxy:
        return proxy(self.registered()[name], timeout)

    def start_web(self) -> str:
        """``pyrostage web`` for this name server; its base URL once it answers."""
        import httpx

        for _ in range(3):
            port = free_port()
            proc = self.spawn([str(Path(sys.executable).parent / "pyrostage"), "web", "--host",
                               "127.0.0.1", "--port", str(port), "--ns-host", "127.0.0.1",
                               "--ns-port", str(self.ns_port), "--no-qr"], "web")
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                with suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/api/info", timeout=2).status_code == 200:
                        return url
                time.sleep(0.1)
            self.procs.remove(proc)
            stop([proc])
        raise SystemExit(f"pyrostage web could not start:\n{self.log_tail('web')}")

    def close(self) -> None:
        nodes = [p for p in self.procs if p is not self.ns_proc]
        stop(nodes)
        stop([p for p in self.procs if p not in nodes])
        self.procs.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextmanager
def cluster(tmp: Path, trace: bool = True,
            extra_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    c = Cluster(tmp, trace, extra_env)
    try:
        yield c
    finally:
        c.close()


def serve_raw(c: Cluster, name: str = "raw") -> Pyro4.Proxy:
    """The bare Pyro4 server (``raw_server.py``), served as a node is: every reference."""
    for _ in range(3):
        port = free_port()
        proc = c.spawn([sys.executable, str(ROOT / "bench" / "raw_server.py"), str(port),
                        str(c.tmp / f"{name}.sqlite3")], name)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            p = proxy(f"PYRO:raw@127.0.0.1:{port}")
            try:
                p._pyroBind()
                c.nodes[name] = proc
                return p
            except Pyro4.errors.CommunicationError:
                p._pyroRelease()
                time.sleep(0.05)
        stop([proc])
    raise SystemExit(f"the bare server could not start:\n{c.log_tail(name)}")


# -- measuring ----------------------------------------------------------------------------

def interleaved(series: dict[str, Callable[[int], Any]], n: int, block: int = 50,
                warm: int = 20) -> dict[str, list[float]]:
    """Run every series in interleaved blocks until each has ``n`` samples (seconds), so
    machine noise hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in series}
    for fn in series.values():
        for i in range(warm):
            fn(i)
    done = 0
    clock = time.perf_counter
    while done < n:
        size = min(block, n - done)
        for name, fn in series.items():
            samples = times[name]
            for i in range(done, done + size):
                t0 = clock()
                fn(i)
                samples.append(clock() - t0)
        done += size
    return times


def paired(reps: int, measure: Callable[[], dict[str, float]]) -> dict[str, list[float]]:
    """``measure()`` ``reps`` times (each returns figure -> value, subject and reference
    measured side by side); every figure's values, in order."""
    out: dict[str, list[float]] = {}
    for _ in range(reps):
        for key, value in measure().items():
            out.setdefault(key, []).append(value)
    return out


def frame_of(status: dict[str, Any], change: int, after: float = 0.0) -> float | None:
    """When the first frame showing change ticket ``change`` (drawn at or after ``after``)
    was on screen, from a traced node's ``status()``; None if none has been shown yet."""
    for _drawn, shown, ticket in status["trace"]["frames"]:
        if ticket >= change and _drawn >= after:
            return float(shown)
    return None


def wait_frame(p: Pyro4.Proxy, change: int, after: float = 0.0, timeout: float = 5.0,
               poll: float = 0.03) -> float:
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(poll)
        shown = frame_of(p.status(), change, after)
        if shown is not None:
            return shown
        if time.monotonic() > deadline:
            raise TimeoutError(f"no frame showed change {change} within {timeout:g} s")


def check(value: float, target: float, below: bool = True) -> bool:
    return value <= target if below else value >= target


def sse(url: str, stop: Any, on_record: Callable[[dict[str, Any]], None],
        errors: list[str]) -> None:
    """Read the web's event stream (``/api/events``) until ``stop`` is set; each record's
    data goes to ``on_record``. Meant for a thread of its own."""
    import json

    import httpx

    try:
        with httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client, \
                client.stream("GET", f"{url}/api/events") as response:
            response.raise_for_status()
            kind = ""
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind == "record":
                    on_record(json.loads(line[5:]))
    except Exception as exc:
        if not stop.is_set():
            errors.append(f"web events: {type(exc).__name__}: {exc}")
