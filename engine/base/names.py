"""How nodes are named in the Pyro4 name server: ``pyrostage.<node>``, tagged for lookups.

Both sides use it: a node registers under these names, a controller lists and finds them.
"""

from __future__ import annotations

PREFIX = "pyrostage."
NODE_TAG = "pyrostage.node"
GROUP_TAG = "group:"


def object_name(node: str) -> str:
    """The name-server (and Pyro object) name of node ``node``."""
    return PREFIX + node


def group_tag(group: str) -> str:
    return GROUP_TAG + group
