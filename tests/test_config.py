"""The config file: each mistake is one line naming the file, the setting and what it accepts
(at ``load()``, at ``pyrostage serve``, from ``pyrostage config check``); ``config example``
round-trips; plugins declare their ``[plugins.<name>]`` tables and read them typed."""

from __future__ import annotations

import socket
from dataclasses import asdict
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_cli import pyrostage
from test_cli_robust import one_clear_line

from engine import Behaviour, Length, Mode, Range, Setting, command, hookimpl
from engine.base.config import Config, load
from engine.cli.app import main
from engine.core.plugins import check_tables, collect, get_plugin_manager, new_plugin_manager

MISTAKES = [
    ("[gpio]\ndebounce_ms = \"fast\"\n",
     "[gpio] debounce_ms must be an integer from 0 to 5000, got 'fast'"),
    ("[node]\nhmac_key = 5\n", "[node] hmac_key must be a non-empty string, got 5"),
    ("[node]\ncolour = \"red\"\n", "[node] colour is not a setting; [node] has name, host,"),
    ("[screen]\nsize = \"800x600\"\n", "[screen] is not a section pyrostage knows; the "
     "sections are [node], [display], [gpio], [plugins], [web], [tls]"),
    ("name = \"red\"\n", "name is outside any section; settings go in [node], [display]"),
    ("[display]\nrotate = 45\n", "[display] rotate must be one of 0, 90, 180, 270, got 45"),
    ("[display]\nsound = \"yes\"\n", "[display] sound must be true or false, got 'yes'"),
    ("[display]\nsize = \"big\"\n", "[display] size must be WIDTHxHEIGHT from 16x16 to "
     "7680x4320, like \"1280x720\", got 'big'"),
    ("[gpio]\nbuttons = { second = { pin = 15, pull = \"sideways\" } }\n",
     "[gpio] buttons.second must be a GPIO number from 0 to 27, or {pin = N, pull = "),
    ("[gpio]\noutputs = { bell = 40 }\n",
     "[gpio] outputs.bell must be a GPIO number from 0 to 27, got 40"),
    ("[node]\ngroups = [\"hall\", \"a b\"]\n", "[node] groups must be a list of names"),
    ("[plugins]\nallow = \"timer\"\n", "[plugins] allow must be a list of plugin names, got "
     "'timer'"),
    ("[tls]\nrequire_client_cert = 1\n", "[tls] require_client_cert must be true or false, "
     "got 1"),
]


@pytest.fixture
def toml(tmp_path):
    def write(text: str, name: str = "node.toml") -> Path:
        file = tmp_path / name
        file.write_text(text)
        return file

    return write


def check(*args: str) -> tuple[int, str, str]:
    out = CliRunner().invoke(main, ["config", "check", *args])
    return out.exit_code, out.stdout, out.stderr


@pytest.mark.parametrize(("text", "words"), MISTAKES, ids=[w.split(" must")[0].split(" is")[0]
                                                          for _, w in MISTAKES])
def test_each_mistake_is_one_line_naming_the_file_the_key_and_what_is_accepted(toml, text,
                                                                                words):
    file = toml(text)
    with pytest.raises(ValueError) as raised:
        load(file)
    message = str(raised.value)
    assert message.startswith(f"config file {file}: {words}")
    assert "\n" not in message
    code, stdout, _ = check(str(file))
    assert code == 1
    assert stdout.splitlines() == [message]


def test_check_lists_every_problem_and_load_names_the_first(toml):
    file = toml("[node]\nport = -1\n[display]\nrotate = 91\nfps = 0\n[plugins.timer]\n"
                "bell_seconds = \"long\"\n")
    code, stdout, _ = check(str(file))
    assert code == 1
    assert stdout.splitlines() == [
        f"config file {file}: [node] port must be an integer from 0 (any free port) to 65535, "
        "got -1",
        f"config file {file}: [display] rotate must be one of 0, 90, 180, 270, got 91",
        f"config file {file}: [display] fps must be an integer from 1 to 240, got 0",
        f"config file {file}: [plugins.timer] bell_seconds must be a number between 0 and 60, "
        "got 'long'",
    ]
    with pytest.raises(ValueError, match=r"port must be .* got -1 \(and 2 more: `pyrostage "
                                         r"config check .*node.toml` lists them\)$"):
        load(file)


def test_serve_with_a_bad_config_says_so_in_one_line(toml):
    file = toml("[gpio]\ndebounce_ms = \"fast\"\n")
    line = one_clear_line(pyrostage("serve", "--headless", "--gpio", "none", "--config",
                                    str(file), timeout=60))
    assert line == (f"Error: ValueError: config file {file}: [gpio] debounce_ms must be an "
                    "integer from 0 to 5000, got 'fast'")


def test_serve_refuses_a_bad_plugin_value_in_one_line(toml, tmp_path):
    file = toml(f"[node]\nstate_dir = \"{tmp_path / 'state'}\"\nport = 0\n"
                "[plugins.easter_egg]\npoints = \"ten\"\n")
    line = one_clear_line(pyrostage("serve", "--headless", "--gpio", "none", "--config",
                                    str(file), timeout=60))
    assert line == (f"Error: ValueError: config file {file}: [plugins.easter_egg] points must be "
                    "an integer between -999999 and 999999, got 'ten'")
    assert not list((tmp_path / "state").glob("*.sqlite3-journal"))


def test_a_missing_file_is_one_line_too(tmp_path):
    code, _, stderr = check(str(tmp_path / "nope.toml"))
    assert code == 1
    assert f"config file {tmp_path / 'nope.toml'} does not exist" in stderr


def test_the_example_round_trips_through_check_to_the_defaults(tmp_path):
    out = CliRunner().invoke(main, ["config", "example"])
    assert out.exit_code == 0, out.output
    text = out.stdout
    for words in ("[display]", "# Accepts one of 0, 90, 180, 270.", "rotate = 0", "sound = true",
                  "debounce_ms = 200", "[plugins.timer]", "bell_seconds = 1.0",
                  "[plugins.easter_egg]", "points = 10", "# enable_on = 2027-08-14",
                  "buttons = { main = 14 }", "# name = "):
        assert words in text, words
    file = tmp_path / "pyrostage.toml"
    file.write_text(text)
    assert check(str(file))[:2] == (0, "ok\n")
    cfg, fresh = load(file), Config()
    assert {k: v for k, v in asdict(cfg).items() if k not in ("file", "plugins")} == \
        {k: v for k, v in asdict(fresh).items() if k not in ("file", "plugins")}
    pm, _ = get_plugin_manager()
    typed, problems = check_tables(collect(pm), cfg.plugins)
    assert problems == []
    assert typed["timer"] == {"bell_seconds": 1.0}
    assert typed["easter_egg"] == {"points": 10, "enable_on": None}


def test_rotate_sound_and_the_host_name(toml):
    cfg = load(toml("[display]\nrotate = 270\nsound = false\n"))
    assert (cfg.rotate, cfg.sound) == (270, False)
    assert load(None, rotate=90).rotate == 90
    with pytest.raises(ValueError, match="rotate must be one of 0, 90, 180, 270, got 45"):
        load(None, rotate=45)
    host = socket.gethostname().split(".")[0].lower()
    if host.replace("-", "").replace("_", "").isalnum() and host != "all":
        assert load(toml("[node]\n")).name == host[:40]


def test_flags_override_the_file(toml):
    file = toml("[node]\nname = \"red\"\ntimeout = 0.5\n[display]\nsize = \"640x360\"\n")
    cfg = load(file, name="blue", size=(320, 180))
    assert (cfg.name, cfg.size, cfg.timeout) == ("blue", (320, 180), 0.5)
    with pytest.raises(TypeError, match="unknown setting 'colour'"):
        load(file, colour="red")


# -- plugin settings ------------------------------------------------------------------------


class Lamp(Mode):
    name = "lamp"
    settings = {
        "brightness": Setting(float, 0.5, "How bright.", Range(0, 1)),
        "label": Setting(str, "lamp", "Shown under it.", Length(1, 12)),
        "colours": Setting(list[int], [255, 200, 0], "r, g, b"),
        "switch_off": Setting(date, None, "A day it stays dark.", example=date(2027, 8, 14)),
    }

    @command(read=True)
    def settings_seen(self) -> dict[str, object]:
        """The typed table."""
        return {k: [type(v).__name__, str(v)] for k, v in self.config.items()}

    def draw(self, surface):
        surface.fill((int(255 * self.config["brightness"]), 0, 0))


class Undeclared(Behaviour):
    name = "undeclared"

    @command(read=True)
    def seen(self) -> dict[str, object]:
        """Its table as given."""
        return dict(self.config)


class LampPlugin:
    @hookimpl
    def register_modes(self, register):
        register(Lamp)

    @hookimpl
    def register_commands(self, register):
        register(Undeclared)


def lamp_pm():
    pm = new_plugin_manager()
    pm.register(LampPlugin(), name="lamp")
    return pm


def test_a_plugin_reads_its_table_typed_with_defaults(start_node):
    node = start_node(pm=lamp_pm(), mode="lamp", plugins={
        "lamp": {"brightness": 1, "switch_off": date(2031, 1, 2)},
        "undeclared": {"anything": [1, "x"]}})
    with node.proxy() as p:
        assert p.call("settings_seen") == {
            "brightness": ["float", "1.0"], "label": ["str", "lamp"],
            "colours": ["list", "[255, 200, 0]"], "switch_off": ["date", "2031-01-02"]}
        assert p.call("undeclared.seen") == {"anything": [1, "x"]}
        assert p.status()["mode"] == "lamp"


@pytest.mark.parametrize(("table", "words"), [
    ({"brightness": 2}, "[plugins.lamp] brightness must be a number between 0 and 1, got 2"),
    ({"brightness": "full"}, "[plugins.lamp] brightness must be a number between 0 and 1, got "
     "'full'"),
    ({"label": ""}, "[plugins.lamp] label must be a string 1 to 12 characters, got ''"),
    ({"colours": [1, "x"]}, "[plugins.lamp] colours must be a list of integers, got [1, 'x'] "
     "([1] must be an integer, got str 'x')"),
    ({"switch_off": "soon"}, "[plugins.lamp] switch_off must be a date like 2027-08-14, got "
     "'soon'"),
    ({"brigthness": 1}, "[plugins.lamp] brigthness is not a setting; [plugins.lamp] has "
     "brightness, label, colours, switch_off"),
])
def test_a_bad_plugin_value_is_refused_at_start(start_node, table, words):
    pm = lamp_pm()
    with pytest.raises(ValueError) as raised:
        start_node(pm=pm, plugins={"lamp": table})
    assert str(raised.value).startswith(f"config: {words}")


def test_the_built_ins_declare_their_settings(start_node):
    node = start_node(plugins={"timer": {"bell_seconds": 2}, "easter_egg": {
        "enable_on": "2027-08-14"}})
    stage = node.node.stage
    assert stage.behaviours["timer"].config == {"bell_seconds": 2.0}
    assert stage.behaviours["easter_egg"].config == {"points": 10,
                                                      "enable_on": date(2027, 8, 14)}
    for wrong in ({"scoreboard": {"teams": 2}}, {"timer": {"bell_seconds": -1}},
                  {"easter_egg": {"enable_on": 5}}):
        with pytest.raises(ValueError, match=r"^config: \[plugins\.\w+\] \w+ (must be|is not)"):
            start_node(plugins=wrong)


def test_a_setting_that_cannot_be_checked_fails_the_plugin_at_registration():
    class Broken(Mode):
        name = "broken"
        settings = {"size": Setting(dict, {}, "no dicts")}

        def draw(self, surface):
            pass

    class Bad:
        @hookimpl
        def register_modes(self, register):
            register(Broken)

    pm = new_plugin_manager()
    pm.register(Bad(), name="bad")
    registry = collect(pm)
    assert "broken" not in registry.modes
    assert "Broken.settings['size']" in registry.loaded.failed["bad"].error


def test_check_warns_of_a_table_nothing_reads(toml):
    code, stdout, stderr = check(str(toml("[plugins.scorebord]\nx = 1\n")))
    assert (code, stdout) == (0, "ok\n")
    assert "[plugins.scorebord] in the config names no mode or behaviour" in stderr


@pytest.mark.parametrize("section, line, hint", [
    ("display", "fullscreen = True", "true and false are lowercase"),
    ("node", 'name = "red', "a quote is not closed"),
    ("node", "ns_host = camp-ns.local", 'text needs quotes: key = "value"'),
    ("gpio", "buttons = { main = 14, second = 15, }", "no comma before the closing }"),
    ("node", '[node]\nhost = "auto"', "each [section] once: add its keys under the first"),
])
def test_a_toml_slip_is_shown_with_its_line_and_the_usual_cause(tmp_path, section, line, hint):
    file = tmp_path / "camp.toml"
    file.write_text(f"[{section}]\n{line}\n")
    with pytest.raises(ValueError) as err:
        load(file)
    message = str(err.value)
    assert "\n" not in message and hint in message and str(file) in message
    assert "at line" in message
