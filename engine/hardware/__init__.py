"""The hardware: the display loop (pygame, main thread only) and the GPIO backends."""
