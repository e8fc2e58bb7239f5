"""pyrostage's built-in plugins; each registers through the ``pyrostage`` entry-point group."""
