"""``pyrostage doctor`` run for real on this machine, as a subprocess: no screen, no GPIO, a name
server or none, keys that match or not, state directories on real (tiny, full, read-only)
tmpfs mounts. What is asserted is what the user reads: the lines, their status, the exit."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from certs import make_certs
from conftest import free_port

from engine.cli.doctor import _run
from engine.cli.doctor_checks import STATUSES, Check
from engine.testing import NameServer

GUARD = 60


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "300", **(env or {})}
    full = {k: v for k, v in full.items() if v is not None and not (k in (env or {}) and v == "")}
    return subprocess.run([sys.executable, "-m", "engine", "doctor", *args], env=full,
                          capture_output=True, text=True, timeout=GUARD,
                          stdin=subprocess.DEVNULL)


def report(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Check]]:
    """Exit status and the checks by name (the last of a name wins); an empty value in
    ``env`` unsets that variable."""
    done = doctor("--json", *args, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    rows = json.loads(done.stdout)
    return done.returncode, {row["check"]: Check(**row) for row in rows}


def config(tmp_path: Path, text: str = "", state: Path | None = None) -> str:
    path = tmp_path / "pyrostage.toml"
    state_dir = state or tmp_path / "state"
    body = f'[node]\nstate_dir = "{state_dir}"\n{text}'
    path.write_text(body)
    path.chmod(0o600)
    return str(path)


def nowhere() -> list[str]:
    """Name-server options that point where none runs."""
    return ["--ns-host", "127.0.0.1", "--ns-port", str(free_port())]


def test_this_machine_no_screen_no_gpio_no_name_server(tmp_path: Path) -> None:
    done = doctor("--json", "--config", config(tmp_path), *nowhere())
    assert done.returncode == 0 and not done.stderr  # warnings only: a headless node runs
    rows = json.loads(done.stdout)
    assert isinstance(rows, list) and rows
    for row in rows:  # the --json shape
        assert set(row) == {"check", "status", "detail", "fix"}
        assert row["status"] in STATUSES and row["detail"]
        assert all(isinstance(v, str) for v in row.values())
        if row["status"] in ("warning", "problem"):
            assert row["fix"], row
    checks = {row["check"]: Check(**row) for row in rows}
    assert list(checks)[:4] == ["python", "pyrostage", "config", "node name"]
    assert checks["python"].status == "ok"
    assert checks["pyrostage"].status == "ok" and "0." in checks["pyrostage"].detail
    assert checks["config"].status == "ok" and "pyrostage.toml" in checks["config"].detail
    display = checks["display"]
    assert display.status == "warning" and "headless" in display.detail
    assert "KMSDRM" in display.detail and "x11" in display.detail and display.fix
    assert "SDL" in checks["pygame"].detail
    assert checks["gpio"].status == "info" and "no GPIO here" in checks["gpio"].detail
    assert checks["audio"].status == "warning"  # the suite's SDL_AUDIODRIVER=dummy
    assert checks["state dir"].status == "ok" and "does not exist yet" in checks["state dir"].detail
    assert checks["state files"].status == "info"
    ns = checks["name server"]
    assert ns.status == "warning" and "none answered" in ns.detail and "pyrostage ns" in ns.fix
    assert checks["shared key"].status in ("ok", "info")
    assert checks["clock"].status in ("ok", "warning")
    for name in ("pygame", "screen devices", "groups", "audio", "state files", "shared key"):
        assert name in checks


def test_people_get_aligned_lines_with_fixes(tmp_path: Path) -> None:
    done = doctor("--config", config(tmp_path), *nowhere())
    assert done.returncode == 0 and not done.stderr
    lines = done.stdout.splitlines()
    display = next(line for line in lines if " display " in line)
    assert display.startswith("warning") and "headless" in display
    gpio = next(line for line in lines if " gpio " in line)
    assert gpio.startswith("info") and "no GPIO here: buttons by keys (sim) or over the network" \
        in gpio
    column = display.index("display")
    assert all(line.index(name) == column for line in lines for name in ("python", "clock")
               if line.split()[1:2] == [name])
    assert any(line.strip().startswith("fix: start one") for line in lines)
    assert "warning" in lines[-1] and "a node can run here" in lines[-1]


def test_name_server_reachable_with_its_nodes(tmp_path: Path, start_node: Any,
                                              name_server: NameServer) -> None:
    start_node(name="blue")
    status, checks = report("--config", config(tmp_path), "--ns-host", name_server.host,
                            "--ns-port", str(name_server.port))
    ns = checks["name server"]
    assert ns.status == "ok", ns
    assert f"{name_server.host}:{name_server.port} answers, 1 node: blue" in ns.detail
    assert status == 0


def test_name_server_with_another_key(tmp_path: Path) -> None:
    ns = NameServer(hmac_key=b"the-camp-key-2025-summer")
    try:
        where = ["--ns-host", ns.host, "--ns-port", str(ns.port)]
        status, checks = report("--config", config(tmp_path), *where,
                                env={"PYROSTAGE_HMAC_KEY": "some-other-key-entirely"})
        assert status == 1
        line = checks["name server"]
        assert line.status == "problem"
        assert "its HMAC key differs from this one" in line.detail
        assert "same" in line.fix and "hmac_key" in line.fix
        status, checks = report("--config", config(tmp_path), *where,
                                env={"PYROSTAGE_HMAC_KEY": "the-camp-key-2025-summer"})
        assert checks["name server"].status == "ok", checks["name server"]
        assert checks["shared key"].status == "ok"
        assert "PYROSTAGE_HMAC_KEY" in checks["shared key"].detail
    finally:
        ns.stop()


@pytest.mark.parametrize("text, says", [
    ("[node\nname = ", "config file"),
    ('name = "two words"\n', "name must be"),
])
def test_bad_config_file_is_a_problem(tmp_path: Path, text: str, says: str) -> None:
    path = config(tmp_path, text)
    status, checks = report("--config", path, *nowhere())
    assert status == 1
    line = checks["config"]
    assert line.status == "problem" and says in line.detail and "config check" in line.fix
    assert checks["display"].status == "warning"  # the other checks ran all the same


def test_missing_config_file(tmp_path: Path) -> None:
    status, checks = report("--config", str(tmp_path / "nope.toml"), *nowhere())
    assert status == 1
    assert checks["config"].status == "problem" and "nope.toml" in checks["config"].detail


@pytest.mark.parametrize("host", ['"auto"', pytest.param('"192.0.2.10"', marks=pytest.mark.long)])
def test_lan_host_without_key_is_a_warning(tmp_path: Path, host: str) -> None:
    """A node without a key on a LAN address runs (and logs a warning): doctor warns too."""
    status, checks = report("--config", config(tmp_path, f"host = {host}\n"), *nowhere())
    assert status == 0
    line = checks["shared key"]
    assert line.status == "warning" and "without a shared key" in line.detail
    assert "hmac_key" in line.fix
    status, checks = report("--config", config(tmp_path, f"host = {host}\n"), *nowhere(),
                            env={"PYROSTAGE_HMAC_KEY": "a-long-enough-camp-key"})
    assert checks["shared key"].status == "ok" and status == 0


def test_key_in_a_file_others_can_read(tmp_path: Path) -> None:
    path = config(tmp_path, 'host = "auto"\nhmac_key = "a-long-enough-camp-key"\n')
    Path(path).chmod(0o644)
    status, checks = report("--config", path, *nowhere())
    line = checks["shared key"]
    assert line.status == "warning" and "other users can read" in line.detail
    assert line.fix == f"chmod 600 {path}" and status == 0


def test_tls_files(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs")
    good = (f'[tls]\ncert = "{certs.server_cert}"\nkey = "{certs.server_key}"\n'
            f'ca = "{certs.ca}"\n')
    _, checks = report("--config", config(tmp_path, good), *nowhere())
    assert checks["tls"].status == "ok" and "server.pem" in checks["tls"].detail
    bad = good.replace(str(certs.server_key), str(tmp_path / "gone.key"))
    status, checks = report("--config", config(tmp_path, bad), *nowhere())
    assert status == 1
    assert checks["tls"].status == "problem" and "gone.key is missing" in checks["tls"].detail


def test_state_files_are_counted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "red.sqlite3").write_bytes(b"\0" * 20_000)
    (state / "red.sqlite3-wal").write_bytes(b"\0" * 5_000)
    (state / "blue.sqlite3").write_bytes(b"\0" * 1_000)
    _, checks = report("--config", config(tmp_path, 'name = "red"\n'), *nowhere())
    line = checks["state files"]
    assert line.status == "ok"
    assert line.detail == "2 files, 26 KB; red.sqlite3 is this node's"
    assert checks["state dir"].status == "ok" and "writable" in checks["state dir"].detail


class Tmpfs:
    """A real tmpfs of ``size`` at ``path`` (mounting needs root: skipped otherwise)."""

    def __init__(self, path: Path, size: str):
        self.path = path
        path.mkdir(parents=True)
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                           check=True, capture_output=True, timeout=GUARD)
        except (OSError, subprocess.CalledProcessError) as exc:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")

    def fill(self) -> None:
        fd = os.open(self.path / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 16, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
        finally:
            os.close(fd)

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True,
                       capture_output=True, timeout=GUARD)

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Any]:
    mounted: list[Tmpfs] = []

    def mount(size: str) -> Tmpfs:
        mounted.append(Tmpfs(tmp_path / f"disk{len(mounted)}", size))
        return mounted[-1]

    yield mount
    for disk in mounted:
        disk.unmount()


def test_state_dir_on_a_full_disk(tmp_path: Path, tmpfs: Any) -> None:
    disk = tmpfs("1m")
    disk.fill()
    status, checks = report("--config", config(tmp_path, state=disk.path), *nowhere())
    assert status == 1
    line = checks["state dir"]
    assert line.status == "problem" and "no space left" in line.detail, line
    assert "free some space" in line.fix


def test_state_dir_on_a_read_only_disk(tmp_path: Path, tmpfs: Any) -> None:
    disk = tmpfs("200m")
    disk.read_only()
    status, checks = report("--config", config(tmp_path, state=disk.path), *nowhere())
    assert status == 1
    line = checks["state dir"]
    assert line.status == "problem" and "read-only" in line.detail, line


def test_state_dir_low_on_space(tmp_path: Path, tmpfs: Any) -> None:
    disk = tmpfs("20m")
    status, checks = report("--config", config(tmp_path, state=disk.path), *nowhere())
    line = checks["state dir"]
    assert line.status == "warning" and "MB free" in line.detail, line
    assert status == 0


def test_x11_is_found_under_xvfb(tmp_path: Path) -> None:
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        pytest.skip("Xvfb is not installed")
    read, write = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "800x600x24",
                               "-nolisten", "tcp"], pass_fds=(write,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as fh:
            display = fh.readline().strip()
        assert display, "Xvfb did not start"
        _, checks = report("--config", config(tmp_path), *nowhere(),
                           env={"DISPLAY": f":{display}", "SDL_VIDEODRIVER": ""})
        line = checks["display"]
        assert line.status == "ok", line
        assert line.detail.startswith("would use x11 at 800x600") and "can open x11" in line.detail
    finally:
        server.kill()
        server.wait(timeout=GUARD)


def test_a_check_that_crashes_is_a_problem_line() -> None:
    def broken(ctx: Any) -> Check:
        raise ZeroDivisionError("division by zero")

    (line,) = _run("clock", broken, None)  # type: ignore[arg-type]
    assert line.check == "clock" and line.status == "problem"
    assert "ZeroDivisionError: division by zero" in line.detail and line.fix
