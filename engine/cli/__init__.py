"""``pyrostage ...``: the command line. ``engine.cli.app`` holds the group; the subcommands
live in ``engine.cli.nodes`` (node side) and ``engine.cli.control`` (controller side) and are
imported only when used."""

from engine.cli.app import main

__all__ = ["main"]
