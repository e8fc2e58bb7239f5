"""The plugin author kit's example, installed the way its README says: pip puts
``examples/pyrostage-quiz`` into a fresh virtual environment, downloading nothing (no index,
no dependencies, no build isolation), a real ``pyrostage serve`` from that environment
finds the ``quiz`` mode through its entry point, and the example's own tests pass there."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, NameServer, lookup_proxy
from nodeproc import registered_uri

from engine.core.plugins import ALLOW_ENV, BLOCK_ENV

EXAMPLE = ROOT / "examples" / "pyrostage-quiz"
GUARD = 60.0  # hang guard for a pip run or a node start (each takes a second or two)


def _env() -> dict[str, str]:
    """This test's environment without pip's settings (no index, no find-links, no config
    file) or the suite's plugin lists (they keep third-party plugins like this one out)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in (ALLOW_ENV, BLOCK_ENV)}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "SDL_VIDEODRIVER": "dummy",
            "SDL_AUDIODRIVER": "dummy"}


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=GUARD)


@pytest.fixture(scope="module")
def quiz_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the venv's python, the copy of the example it was installed from)."""
    root = tmp_path_factory.mktemp("quiz")
    source = root / "pyrostage-quiz"  # a copy: building writes build/ and egg-info beside it
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=GUARD)
    python = venv / "bin" / "python"
    if sys.prefix != sys.base_prefix:
        # A venv's "system" packages are its base interpreter's, not this venv's: let the new
        # one see what this one has (pyrostage, its dependencies, pip, setuptools, pytest).
        purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                        "'purelib'))"], root).stdout.strip()
        lines = [f"import site; site.addsitedir({d!r})" for d in site.getsitepackages()]
        (Path(purelib) / "_pyrostage_parent.pth").write_text("\n".join(lines) + "\n")
    pip = _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                "--no-build-isolation", "--no-cache-dir", str(source)], root)
    if pip.returncode:
        pytest.fail("pip could not install the example offline; building it needs setuptools "
                    f">= 70.1 (or wheel) in this environment:\n{pip.stdout}{pip.stderr}")
    return python, source


@pytest.fixture
def quiz_node(quiz_venv: tuple[Path, Path], name_server: NameServer,
              tmp_path: Path) -> Iterator[str]:
    """A node process from the example's venv (``python -m engine serve``), headless; its name."""
    python, _source = quiz_venv
    name = "quizzer"
    cmd = [str(python), "-m", "engine", "serve", "--name", name, "--host", "127.0.0.1",
           "--ns-host", name_server.host, "--ns-port", str(name_server.port),
           "--state-dir", str(tmp_path / "state"), "--headless", "--size", "320x180",
           "--gpio", "none"]
    with (tmp_path / "node.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + GUARD
        while registered_uri(name_server, name) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the node did not come up:\n{(tmp_path / 'node.log').read_text()}")
            time.sleep(0.05)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=GUARD)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_an_installed_quiz_serves_and_locks_on_the_first_press(
    quiz_node: str, name_server: NameServer
) -> None:
    with lookup_proxy(name_server, quiz_node) as node:
        assert "quiz" in node.modes()
        assert node.switch("quiz") == "quiz"
        assert node.press("second") is True
        assert node.press("main") is True  # a press, but the buzzers are locked
        assert node.call("buzzed") == {"button": "second", "team": "Blue"}
        assert node.status()["plugins"]["quiz"]["distribution"] == "pyrostage-quiz"


@pytest.mark.long
def test_the_example_passes_its_own_tests(quiz_venv: tuple[Path, Path]) -> None:
    python, source = quiz_venv
    result = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], source)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
