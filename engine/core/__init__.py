"""The node core: the stage (one serialized path for every change), the SQLite store,
plugin loading and the limits a node derives from its commands. Uses the plugin API."""
