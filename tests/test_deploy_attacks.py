"""Deployment edge cases found by attacking issue 12 with other inputs than its text: config
files as editors and people write them, pins wired twice, odd paths in a unit file, and a
systemd watchdog interval nobody would choose."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_service import Listener

from engine.base.config import load
from engine.cli.app import main

PIN_CLASHES = [
    ("[gpio]\nbuttons = { main = 17 }\n",
     "[gpio] outputs.bell is on GPIO17, which buttons.main uses already"),
    ("[gpio]\noutputs = { bell = 14 }\n",  # main keeps GPIO14
     "[gpio] outputs.bell is on GPIO14, which buttons.main uses already"),
    ("[gpio]\nbuttons = { second = { pin = 14, pull = \"down\" } }\n",
     "[gpio] buttons.second is on GPIO14, which buttons.main uses already"),
    ("[gpio]\noutputs = { bell = 18, light = 18 }\n",
     "[gpio] outputs.light is on GPIO18, which outputs.bell uses already"),
]


def check(file: Path) -> tuple[int, str]:
    out = CliRunner().invoke(main, ["config", "check", str(file)])
    return out.exit_code, out.output


@pytest.mark.parametrize(("text", "words"), PIN_CLASHES)
def test_two_things_on_one_pin_are_refused(tmp_path, text, words):
    """A bell driven on a button's pin shorts the pin when the button is pressed; two buttons
    on one pin fail only at start on a Pi, after `config check` said ok."""
    file = tmp_path / "node.toml"
    file.write_text(text)
    with pytest.raises(ValueError) as raised:
        load(file)
    assert str(raised.value).startswith(f"config file {file}: {words}")
    code, output = check(file)
    assert code == 1 and words in output


def test_separate_pins_are_fine(tmp_path):
    file = tmp_path / "node.toml"
    file.write_text("[gpio]\nbuttons = { main = 14, second = 15 }\noutputs = { bell = 17 }\n")
    assert load(file).outputs == {"bell": 17}


def test_a_rotation_written_as_a_float_is_refused_like_the_node_refuses_it(tmp_path):
    """`rotate = 90.0` equals 90, so `config check` said ok and the node then refused it."""
    file = tmp_path / "node.toml"
    file.write_text("[display]\nrotate = 90.0\n")
    code, output = check(file)
    assert code == 1
    assert "[display] rotate must be one of 0, 90, 180, 270, got 90.0" in output
    with pytest.raises(ValueError, match="rotate must be"):
        load(None, rotate=90.0)


def test_a_file_saved_with_a_byte_order_mark_reads(tmp_path):
    """Windows Notepad starts UTF-8 files with a BOM; tomllib calls it an invalid statement."""
    file = tmp_path / "node.toml"
    file.write_bytes("\ufeff[display]\r\nfps = 12\r\nrotate = 270\r\n".encode())
    cfg = load(file)
    assert (cfg.fps, cfg.rotate) == (12, 270)
    assert check(file) == (0, "ok\n")


def test_a_config_that_is_a_device_is_not_said_to_be_missing():
    with pytest.raises(FileNotFoundError, match="/dev/zero is not a regular file"):
        load("/dev/zero")


# -- install-service -------------------------------------------------------------------------

def unit_for(config: Path) -> tuple[int, str]:
    out = CliRunner().invoke(main, ["install-service", "--print", "--user", "root",
                                    "--config", str(config)])
    return out.exit_code, out.output


def test_a_dollar_in_the_state_dir_is_written_as_systemd_reads_it(tmp_path):
    """systemd expands $VAR in ExecStart= only: `$$` there, a plain `$` in ReadWritePaths=."""
    folder = tmp_path / "dol$HOME"
    folder.mkdir()
    config = folder / "pyrostage.toml"
    config.write_text(f"[node]\nstate_dir = \"{folder / 'state'}\"\n")
    code, unit = unit_for(config)
    assert code == 0, unit
    lines = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line
                 and not line.startswith("#"))
    assert lines["ReadWritePaths"] == f"{folder}/state"
    assert f"--config {str(config).replace('$', '$$')}" in lines["ExecStart"]


def test_a_config_path_with_a_line_break_is_refused_not_written_into_the_unit(tmp_path):
    """A line break in a path ended ExecStart= and started a setting of the path's choosing."""
    folder = tmp_path / "x\nExecStartPre=touch oops"
    folder.mkdir()
    config = folder / "pyrostage.toml"
    config.write_text("[display]\nfps = 30\n")
    code, output = unit_for(config)
    assert code == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in output
    assert "line break" in lines[0] and "ExecStartPre" not in output.replace(repr(str(config))
                                                                              [1:-1], "")


# -- the watchdog ----------------------------------------------------------------------------

@pytest.mark.parametrize("usec", ["1", str(10**23)])
def test_an_absurd_watchdog_interval_neither_spins_nor_stops_the_pings(
        tmp_path, monkeypatch, caplog, start_node, usec):
    """WATCHDOG_USEC=1 had the heartbeat probe the main loop in a busy loop, warning each
    time; a huge one overflowed the wait, so no WATCHDOG=1 was ever sent."""
    box = Listener(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", box.address)
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    caplog.set_level(logging.WARNING, logger="engine.base.notify")
    node = start_node()
    try:
        box.wait(lambda line: line == "READY=1")
        box.wait(lambda line: line == "WATCHDOG=1")
        box.receive(1.0)
        assert box.count("WATCHDOG=1") <= 40  # at most every 0.05 s
        assert len(caplog.records) <= 40
        assert node.thread.is_alive()
    finally:
        box.sock.close()
