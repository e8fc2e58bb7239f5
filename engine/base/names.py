"""How nodes are named in the Pyro4 name server: ``pyrostage.<node>``, tagged for lookups.

Both sides use it: a node registers under these names, a controller lists and finds them.
"""

from __future__ import annotations

import re

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


NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$", re.IGNORECASE)
"""A node or group name: what a selector (``red,blue``, ``@teams``) can spell unquoted."""
RESERVED = {"all"}


def check_name(name: object, what: str = "node name") -> str:
    """``name`` if it can be a node (or group) name; ``ValueError`` saying why otherwise."""
    if not isinstance(name, str) or not NAME.match(name):
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."
        raise ValueError(f"{what} must be 1 to 40 letters, digits, - or _, starting with a "
                         f"letter or digit; got {shown}")
    if name.lower() in RESERVED:
        raise ValueError(f"{what} {name!r} is reserved: `all` selects every node")
    return name


def default_node_name() -> str:
    """The machine's host name, made a valid node name: SD cards cloned for a camp give
    each Pi its own host name, so they do not all register as one node."""
    import socket

    host = socket.gethostname().split(".")[0].lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", host).strip("-_")[:40]
    return name if name and NAME.match(name) and name not in RESERVED else "node"
