"""The controller side: finding and driving nodes over Pyro4. Imports only ``engine.base``
(never the core, the hardware, pygame, Pillow, pluggy or sqlite3), so a laptop's or a
phone-serving controller starts fast."""
