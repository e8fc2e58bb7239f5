"""Presets: a hand-written TOML file applied to four real subprocess nodes with
``pyrostage preset``, read back over Pyro and from the screens; saved from what the nodes show;
every mistake in the file found before anything is sent."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, pixel, wait_for
from fleetnodes import four_nodes
from PIL import Image

from engine.control.controller import Controller
from engine.control.fleet import Fleet
from engine.control.presets import EVERY, Look, Preset, PresetFile, look_of
from engine.testing import NameServer

MAGENTA = (200, 0, 200)

CAMP = """\
# The camp page's buttons, as presets.

[presets.reset."*"]          # "Reset Titles": every node it is applied to
title_color = "white"
background = "built-in"
mode = "scoreboard"

[presets.reset.red]
team = "Red"
[presets.reset.blue]
team = "Blue"
[presets.reset.green]
team = "Green"
[presets.reset.gold]
team = "Gold"

[presets.finals.red]         # a title pair
team = "Foxes"
title_color = "orange"
color = [10, 20, 30]
background = "art/magenta.png"

[presets.finals.blue]
team = "Owls"
title_color = "0,0,255"
color = "navy"
"""


@pytest.fixture(scope="module")
def camp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NameServer]:
    ns = NameServer()
    try:
        with four_nodes(Path(tmp_path_factory.mktemp("camp")), ns):
            yield ns
    finally:
        ns.stop()


@pytest.fixture
def fleet(camp: NameServer) -> Iterator[Fleet]:
    with Controller(camp.host, camp.port, camp.hmac_key) as ctl, Fleet(ctl, timeout=10) as f:
        yield f


def png(rgb: tuple[int, int, int], size: tuple[int, int] = (32, 18)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, rgb).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def presets(tmp_path: Path) -> Path:
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "magenta.png").write_bytes(png(MAGENTA))
    file = tmp_path / "presets.toml"
    file.write_text(CAMP)
    return file


def pyrostage(camp: NameServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PYRO_NS_HOST": camp.host,
           "PYRO_NS_PORT": str(camp.port)}
    return subprocess.run([sys.executable, "-m", "engine", "preset", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def teams(fleet: Fleet, selector: str = "all") -> dict[str, str]:
    return fleet.call(selector, "scoreboard.get_team").values_or_raise()


def board(fleet: Fleet, node: str) -> dict:
    return fleet.member(node, "status")[node].result["state"]["scoreboard"]


def lines(text: str) -> dict[str, str]:
    """node -> the rest of its line in ``preset apply``'s output (``red  ok: ...``)."""
    return dict(line.split(None, 1) for line in text.splitlines() if line.strip())


# -- against the four nodes ------------------------------------------------------------------


def test_a_preset_reaches_every_node_it_names_at_once(camp, fleet, presets):
    fleet.call("all", "scoreboard.set_title_color", "black")
    out = pyrostage(camp, "apply", "reset", "--file", str(presets))
    assert out.returncode == 0, out.stderr
    shown = lines(out.stdout)
    assert set(shown) == {"red", "blue", "green", "gold"}
    assert shown["blue"] == ("ok: team Blue, title colour white, background built-in, "
                             "mode scoreboard")
    assert teams(fleet) == {"red": "Red", "blue": "Blue", "green": "Green", "gold": "Gold"}
    assert fleet.member("all", "mode").values_or_raise() == dict.fromkeys(shown, "scoreboard")
    assert all(board(fleet, n)["title_color"] == [255, 255, 255] for n in shown)


def test_colours_and_a_background_file_land_on_the_screen(camp, fleet, presets):
    pyrostage(camp, "apply", "reset", "--file", str(presets))
    out = pyrostage(camp, "apply", "finals", "--file", str(presets))
    assert out.returncode == 0, out.stderr
    shown = lines(out.stdout)
    assert set(shown) == {"red", "blue"}
    assert shown["red"] == ("ok: team Foxes, title colour orange, colour 10,20,30, "
                            "background art/magenta.png (32x18 PNG)")
    assert teams(fleet, "red,blue") == {"red": "Foxes", "blue": "Owls"}
    assert board(fleet, "blue")["title_color"] == [0, 0, 255]
    assert fleet.call("red,blue", "colorsquare.get_color").values_or_raise() == {
        "red": [10, 20, 30], "blue": [0, 0, 128]}
    assert teams(fleet, "green,gold") == {"green": "Green", "gold": "Gold"}  # not named

    def corner(node: str) -> tuple[int, int, int]:
        return pixel(fleet.member(node, "snapshot")[node].result, (3, 3))

    assert wait_for(lambda: corner("red") == MAGENTA, timeout=10)
    assert corner("blue") != MAGENTA


def test_a_selector_narrows_it_and_star_reaches_nodes_not_named(camp, fleet, tmp_path):
    file = tmp_path / "p.toml"
    file.write_text('[presets.dusk."*"]\ncolor = "purple"\n[presets.dusk.green]\n'
                    'team = "Dusk"\n')
    fleet.call("all", "colorsquare.set_color", "black")
    fleet.call("all", "scoreboard.set_team", "Before")
    out = pyrostage(camp, "apply", "dusk", "@stage", "--file", str(file))
    assert out.returncode == 0, out.stderr
    assert lines(out.stdout) == {"gold": "ok: colour purple",
                                 "green": "ok: team Dusk, colour purple"}
    colours = fleet.call("all", "colorsquare.get_color").values_or_raise()
    assert colours == {"blue": [0, 0, 0], "gold": [160, 32, 240], "green": [160, 32, 240],
                       "red": [0, 0, 0]}
    assert teams(fleet) == {"blue": "Before", "gold": "Before", "green": "Dusk",
                            "red": "Before"}


def test_a_node_refusing_a_value_fails_alone_and_the_exit_says_so(camp, fleet, tmp_path):
    file = tmp_path / "p.toml"
    file.write_text('[presets.odd.red]\nteam = "Fine"\n'
                    '[presets.odd.blue]\nteam = "Bluish"\ncolor = "blurple"\n')
    out = pyrostage(camp, "apply", "odd", "--file", str(file))
    assert out.returncode == 1
    assert lines(out.stdout) == {"red": "ok: team Fine"}
    failed = lines(out.stderr)
    assert list(failed) == ["blue"] and failed["blue"].startswith("error: ValueError: colour: ")
    assert "unknown colour 'blurple'" in failed["blue"]
    assert failed["blue"].endswith("(team set before it)")
    assert teams(fleet, "red,blue") == {"red": "Fine", "blue": "Bluish"}


@pytest.mark.parametrize("text, selector, words", [
    ('[presets.p.red]\nteam = "Changed"\n[presets.p.blue]\nbackground = "gone.png"\n', None,
     ["FileNotFoundError", "node 'blue'", "gone.png does not exist"]),
    ('[presets.p.red]\nteam = "Changed"\n[presets.p.blue]\nbackground = "text.png"\n', None,
     ["ValueError", "text.png is not a PNG image"]),
    ('[presets.p.red]\nteam = "Changed"\n[presets.p.purple]\nteam = "Changed"\n', None,
     ["LookupError", "no node named 'purple'", "(nodes: blue, gold, green, red)"]),
    ('[presets.p.red]\nteam = "Changed"\n', "red,purple", ["no node named 'purple'"]),
    ('[presets.p.red]\nteam = "Changed"\n', "red,@stage",
     ["has nothing for 'gold', 'green'", "it names red", '[presets.p."*"]']),
    ('[presets.p.red]\nteam = "Changed"\n', "@nobody", ["no node in group 'nobody'"]),
], ids=["missing-background", "not-a-png", "unknown-node-in-preset", "unknown-node-selected",
        "nothing-for-a-node", "unknown-group"])
def test_mistakes_are_found_before_anything_is_sent(camp, fleet, tmp_path, text, selector,
                                                    words):
    (tmp_path / "text.png").write_text("not a picture")
    file = tmp_path / "p.toml"
    file.write_text(text)
    fleet.call("all", "scoreboard.set_team", "Kept")
    out = pyrostage(camp, "apply", "p", *([selector] if selector else []), "--file", str(file))
    assert out.returncode == 1 and out.stdout == ""
    error = out.stderr.strip()
    assert error.startswith("Error: ") and "\n" not in error, error
    for word in words:
        assert word in error
    assert set(teams(fleet).values()) == {"Kept"}


def test_apply_json_is_one_document(camp, fleet, tmp_path):
    file = tmp_path / "p.toml"
    file.write_text('[presets.j.red]\nteam = "J"\ntitle_color = "red"\n'
                    '[presets.j.gold]\nmode = "nonesuch"\n')
    out = pyrostage(camp, "apply", "j", "--json", "--file", str(file))
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert list(doc) == ["red", "gold"]
    assert doc["red"] == {"result": {"team": "J", "title_color": [255, 0, 0]}}
    assert doc["gold"]["error"]["type"] == "LookupError"
    assert "mode: " in doc["gold"]["error"]["message"]
    assert "nonesuch" in doc["gold"]["error"]["message"]


def test_save_keeps_what_the_screens_show_and_apply_brings_it_back(camp, fleet, tmp_path):
    fleet.call("red", "scoreboard.set_team", "Saved Red")
    fleet.call("red", "scoreboard.set_title_color", "0,255,0")
    fleet.call("red", "colorsquare.set_color", "orange")
    fleet.call("red,blue", "scoreboard.set_background", None)
    fleet.call("blue", "scoreboard.set_team", "Saved Blue")
    fleet.call("blue", "scoreboard.set_title_color", "yellow")
    fleet.call("blue", "colorsquare.set_color", [1, 2, 3])
    fleet.member("red", "switch", "colorsquare")
    fleet.member("blue", "switch", "scoreboard")
    file = tmp_path / "saved" / "presets.toml"
    out = pyrostage(camp, "save", "evening", "red,blue", "--file", str(file))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"saved preset 'evening' (red, blue) to {file}"
    assert tomllib.loads(file.read_text()) == {"presets": {"evening": {
        "red": {"team": "Saved Red", "title_color": "0,255,0", "color": "orange",
                "background": "built-in", "mode": "colorsquare"},
        "blue": {"team": "Saved Blue", "title_color": "255,255,0", "color": "1,2,3",
                 "background": "built-in", "mode": "scoreboard"}}}}

    fleet.call("red,blue", "scoreboard.set_team", "Changed")
    fleet.call("red,blue", "colorsquare.set_color", "white")
    fleet.member("red,blue", "switch", "timer")
    assert pyrostage(camp, "apply", "evening", "--file", str(file)).returncode == 0
    assert teams(fleet, "red,blue") == {"red": "Saved Red", "blue": "Saved Blue"}
    assert board(fleet, "red")["title_color"] == [0, 255, 0]
    assert fleet.call("red,blue", "colorsquare.get_color").values_or_raise() == {
        "red": [255, 165, 0], "blue": [1, 2, 3]}
    assert fleet.member("red,blue", "mode").values_or_raise() == {
        "red": "colorsquare", "blue": "scoreboard"}


def test_save_says_a_custom_background_cannot_be_read_back(camp, fleet, tmp_path):
    fleet.call("gold", "scoreboard.set_background", png(MAGENTA))
    file = tmp_path / "presets.toml"
    out = pyrostage(camp, "save", "art", "gold", "--file", str(file), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert "background" not in doc["nodes"]["gold"]
    assert "background" not in tomllib.loads(file.read_text())["presets"]["art"]["gold"]
    [note] = doc["notes"]
    assert note.startswith("gold shows a custom background (PNG, ")
    assert "[presets.art.gold]" in note


def test_save_refuses_to_overwrite_without_force_and_keeps_comments_when_adding(
        camp, fleet, presets):
    before = presets.read_text()
    out = pyrostage(camp, "save", "reset", "red", "--file", str(presets))
    assert out.returncode == 1 and "'reset' already exists" in out.stderr
    assert "--force" in out.stderr and presets.read_text() == before
    out = pyrostage(camp, "save", "later", "gold", "--file", str(presets))
    assert out.returncode == 0, out.stderr
    assert presets.read_text().startswith(before)  # appended: comments and layout kept
    names = list(PresetFile.load(presets).presets)
    assert names == ["reset", "finals", "later"]
    out = pyrostage(camp, "save", "reset", "red", "--force", "--file", str(presets))
    assert out.returncode == 0, out.stderr
    assert "comments in it are not kept" in out.stdout
    saved = PresetFile.load(presets).presets
    assert list(saved) == ["reset", "finals", "later"] and saved["reset"].nodes == ["red"]
    assert saved["finals"].looks["red"].background == "art/magenta.png"


def test_list_and_show(camp, presets):
    out = pyrostage(camp, "list", "--file", str(presets))
    assert out.returncode == 0, out.stderr
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:4]]
            for line in out.stdout.splitlines() if line.count("│") == 4}
    assert rows == {
        "reset": ["red, blue, green, gold", "team, title colour, background, mode"],
        "finals": ["red, blue", "team, title colour, colour, background"]}
    doc = json.loads(pyrostage(camp, "list", "--json", "--file", str(presets)).stdout)
    assert doc["file"] == str(presets)
    assert doc["presets"]["finals"]["blue"] == {"team": "Owls", "title_color": "0,0,255",
                                               "color": "navy"}
    assert doc["presets"]["reset"][EVERY]["mode"] == "scoreboard"
    shown = pyrostage(camp, "show", "reset", "--file", str(presets))
    assert shown.returncode == 0, shown.stderr
    assert "* (every node)" in shown.stdout and "Green" in shown.stdout
    missing = pyrostage(camp, "show", "nope", "--file", str(presets))
    assert missing.returncode == 1
    assert "no preset 'nope'" in missing.stderr and "(presets: reset, finals)" in missing.stderr


def test_the_default_file_lives_in_the_user_config_dir(camp, fleet, tmp_path):
    env_config = Path(os.environ["XDG_CONFIG_HOME"])  # a temporary dir (conftest)
    default = env_config / "pyrostage" / "presets.toml"
    default.unlink(missing_ok=True)
    out = pyrostage(camp, "list")
    assert out.returncode == 0 and f"{default} does not exist yet" in out.stdout
    try:
        assert pyrostage(camp, "save", "home", "green").returncode == 0
        assert "home" in tomllib.loads(default.read_text())["presets"]
    finally:
        default.unlink(missing_ok=True)


# -- the file, on its own --------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "presets.toml"
    file.write_text(text)
    return file


@pytest.mark.parametrize("text, kind, words", [
    ('[presets.p.red]\ncolour = "red"\n', ValueError,
     ["[presets.p.red]", "unknown setting 'colour'", "did you mean 'color'?",
      "team, title_color, color, background, mode"]),
    ('[presets.p.red]\nteam = 2024\n', TypeError, ["team must be text in quotes", "2024"]),
    ('[presets.p.red]\ncolor = [1, 2]\n', TypeError, ['[r, g, b] with each 0-255', "[1, 2]"]),
    ('[presets.p.red]\ncolor = [1, 2, 300]\n', TypeError, ["0-255"]),
    ('[presets.p.red]\ntitle_color = true\n', TypeError, ["colour name"]),
    ('[presets.p.red]\nbackground = ""\n', ValueError, ["background is empty"]),
    ('[presets.p."Red Team"]\nteam = "x"\n', ValueError, ["node name", "'Red Team'"]),
    ('[presets.p.all]\nteam = "x"\n', ValueError, ["reserved", '"*"']),
    ('[presets."two words".red]\nteam = "x"\n', ValueError, ["preset name", "'two words'"]),
    ('[presets.p]\nteam = "x"\n', TypeError, ["'team' = 'x' is not a node",
                                              "[presets.p.NODE]"]),
    ('[presets.p.red]\n', ValueError, ["[presets.p.red] sets nothing"]),
    ('[presets.p]\n', ValueError, ["names no nodes"]),
    ('[preset.p.red]\nteam = "x"\n', ValueError, ["unknown top-level key 'preset'"]),
    ('presets = 3\n', TypeError, ["'presets' must be a table"]),
    ('[presets.p.red\nteam = "x"\n', ValueError, ["line 1"]),
])
def test_a_wrong_file_says_where_and_what_is_accepted(tmp_path, text, kind, words):
    file = write(tmp_path, text)
    with pytest.raises(kind) as err:
        PresetFile.load(file)
    assert str(file) in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_star_settings_lie_under_each_nodes_own(tmp_path):
    file = write(tmp_path, '[presets.p.red]\ncolor = "red"\n[presets.p."*"]\ncolor = "white"\n'
                           'team = "All"\n')
    p = PresetFile.load(file).get("p")
    assert list(p.looks) == [EVERY, "red"] and p.nodes == ["red"] and p.selector == "red"
    assert p.look_for("red") == Look(team="All", color="red")
    assert p.look_for("blue") == Look(team="All", color="white")
    only_star = Preset("s", {EVERY: Look(team="x")})
    assert only_star.selector == "all"


def test_background_paths_start_at_the_files_folder(tmp_path, monkeypatch):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(png((1, 2, 3)))
    file = write(tmp_path, '[presets.p.red]\nbackground = "pics/a.png"\n'
                           '[presets.p.blue]\nbackground = "built-in"\n')
    monkeypatch.chdir(tmp_path / "pics")  # not where it is looked for
    p = PresetFile.load(file).get("p")
    found = p.backgrounds(p.plan(["red", "blue"]))
    assert found == {"pics/a.png": png((1, 2, 3)), "built-in": None}


def test_what_a_status_shows_becomes_a_look():
    status = {"mode": "timer", "state": {
        "scoreboard": {"team": "T", "title_color": [1, 2, 3], "background": "built-in"},
        "colorsquare": {"color": [255, 0, 0], "name": "red"}}}
    assert look_of(status) == (Look(team="T", title_color="1,2,3", color="red",
                                    background="built-in", mode="timer"), None)
    custom, note = look_of({"mode": "scoreboard", "state": {
        "scoreboard": {"team": "T", "background": "PNG, 90 bytes"}}})
    assert custom == Look(team="T", mode="scoreboard") and "PNG, 90 bytes" in str(note)
