"""The naive display loop P6 compares a node with: redraw the whole screen at 60 fps, whether
anything changed or not, the way the camp's first script (and most pygame examples) did.

    python bench/naive.py timer|scoreboard SECONDS [WIDTHxHEIGHT]

Prints the frames it drew. Self-contained on purpose: whatever the engine and its plugins
learn about drawing less, this reference keeps redrawing everything.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
import pygame


def main() -> None:
    what, seconds = sys.argv[1], float(sys.argv[2])
    w, h = (int(v) for v in (sys.argv[3] if len(sys.argv) > 3 else "1280x720").split("x"))
    pygame.display.init()
    pygame.font.init()
    screen = pygame.display.set_mode((w, h))
    ends = pygame.Surface((1, 2))
    ends.set_at((0, 0), (20, 24, 38))
    ends.set_at((0, 1), (6, 7, 12))
    background = pygame.transform.smoothscale(ends, (w, h))
    title_font = pygame.font.Font(None, h // 5)
    digits_font = pygame.font.Font(None, int(h * 0.42))
    clock = pygame.time.Clock()
    started = time.monotonic()
    frames = 0
    while (now := time.monotonic()) - started < seconds:
        pygame.event.pump()
        screen.blit(background, (0, 0))
        elapsed = now - started
        if what == "timer":
            text = f"{int(elapsed):02d}.{int(elapsed * 1000) % 1000:03d}"
            title = "RUNNING"
        else:
            text = str(int(elapsed * 50))
            title = "Team"
        for font, line, y, colour in ((title_font, title, 0.19, (255, 204, 0)),
                                      (digits_font, text, 0.65, (255, 255, 255))):
            shadow = font.render(line, True, (0, 0, 0))
            screen.blit(shadow, shadow.get_rect(center=(w // 2 + 5, int(h * y) + 5)))
            shown = font.render(line, True, colour)
            screen.blit(shown, shown.get_rect(center=(w // 2, int(h * y))))
        pygame.display.flip()
        frames += 1
        clock.tick(60)
    print(frames, flush=True)


if __name__ == "__main__":
    main()
