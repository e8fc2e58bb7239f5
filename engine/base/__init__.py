"""The bottom layer both sides share: the config file, Pyro4 settings and security, the
connection gate, names in the name server. Imports nothing else of pyrostage."""
