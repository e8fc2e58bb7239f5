"""How nodes are named in the Pyro4 name server: ``pyrostage.<node>``, tagged for lookups.

Both sides use it: a node registers under these names, a controller lists and finds them.
"""

from __future__ import annotations

ENTRY_POINTS = "pyrostage"
"""The entry-point group every plugin (built-in or third-party) registers in."""
BUILTIN = "pyrostage"
"""The distribution whose entry points are the built-in plugins."""
PREFIX = "pyrostage."
NODE_TAG = "pyrostage.node"
GROUP_TAG = "group:"


def object_name(node: str) -> str:
    """The name-server (and Pyro object) name of node ``node``."""
    return PREFIX + node


def group_tag(group: str) -> str:
    return GROUP_TAG + group
