"""The remote side of a node: the one Pyro4-exposed facade, name-server registration and the
wiring of a whole node."""
