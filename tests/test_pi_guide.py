"""docs/raspberry-pi.md only tells people to type what exists: every ``pyrostage`` subcommand in
its shell blocks is a real one, every config block passes ``pyrostage config check``, its links
within the page land, and no reviewer's ``<!-- check -->`` note is left in it."""

from __future__ import annotations

import re
import shlex
import tomllib

import click
from click.testing import CliRunner
from conftest import ROOT

from engine.cli.app import SUBCOMMANDS, main

GUIDE = ROOT / "docs" / "raspberry-pi.md"
OPERATORS = {"|", "||", "&", "&&", ";", "(", ")"}


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", GUIDE.read_text(), re.MULTILINE | re.DOTALL)


def subcommands(script: str) -> list[str]:
    """The first word after each ``pyrostage`` (or ``.../bin/pyrostage``) run as a command."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        at_start = True
        for i, word in enumerate(words):
            if word in OPERATORS:
                at_start = True
                continue
            if at_start and word.rsplit("/", 1)[-1] == "pyrostage":
                rest = [w for w in words[i + 1:] if not w.startswith("-")]
                assert rest and rest[0] not in OPERATORS, f"no subcommand in: {line}"
                found.append(rest[0])
            at_start = at_start and word == "sudo"
    return found


def test_the_guide_uses_only_real_subcommands():
    real = set(SUBCOMMANDS) | set(main.list_commands(click.Context(main)))
    used = [name for script in blocks("sh") for name in subcommands(script)]
    assert {"serve", "ns", "install-service", "config", "doctor"} <= set(used)
    unknown = sorted(set(used) - real)
    assert not unknown, f"docs/raspberry-pi.md uses unknown subcommands: {unknown}"


def test_every_config_block_passes_config_check(tmp_path):
    """Each ```toml block of the guide is (part of) a pyrostage.toml: the node would accept it."""
    found = blocks("toml")
    assert len(found) >= 3
    for i, text in enumerate(found):
        assert tomllib.loads(text), text
        path = tmp_path / f"block{i}.toml"
        path.write_text(text)
        result = CliRunner().invoke(main, ["config", "check", str(path)])
        assert result.exit_code == 0, f"{result.output}in:\n{text}"
        assert result.output.strip() == "ok"


def test_no_review_notes_are_left():
    assert "<!--" not in GUIDE.read_text()


def test_links_within_the_page_land_on_a_heading():
    text = GUIDE.read_text()
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    missing = sorted(set(re.findall(r"\]\(#([^)]+)\)", text)) - anchors)
    assert not missing, f"links to no heading: {missing}"
