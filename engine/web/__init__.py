"""The web controller: one page for phones and laptops, and the JSON API it uses.

FastAPI serves the page, the API under ``/api/`` and the nodes' events as server-sent events.
Pyro proxies block, so every endpoint that reaches a node is a plain ``def`` (FastAPI runs it
on its thread pool) and talks through one ``Fleet``, whose per-node worker threads own the
proxies. Node events arrive on the ``Listener``'s thread and reach the event loop through
``call_soon_threadsafe``. Nothing here runs on a node: its dependencies are an extra,
``pyrostage[web]``.
"""
