"""``pyrostage ...``: the command line. ``engine.cli.app`` holds the group; the subcommands
live in ``engine.cli.nodes`` (node side: serve, ns, demo; ``serve --reload`` in
``engine.cli.reload``), ``engine.cli.control`` (controller side) and ``engine.cli.plugins``
(either side) and are imported only when used."""

from engine.cli.app import main

__all__ = ["main"]
