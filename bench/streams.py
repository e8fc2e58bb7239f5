"""Web event streams for P12: ``count`` readers of ``pyrostage web``'s ``/api/events`` in one
process (asyncio), as that many phones would be.

    python bench/streams.py URL COUNT

Prints ``ready`` once every stream said hello, and the records each got when stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import httpx


async def read(client: httpx.AsyncClient, url: str, counts: list[int], i: int,
               hello: asyncio.Event, ready: list[int]) -> None:
    async with client.stream("GET", f"{url}/api/events") as response:
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
                if kind == "hello":
                    ready[0] += 1
                    if ready[0] == len(counts):
                        hello.set()
            elif line.startswith("data:") and kind == "record":
                counts[i] += 1


async def main() -> None:
    url, count = sys.argv[1], int(sys.argv[2])
    counts = [0] * count
    ready = [0]
    hello = asyncio.Event()
    limits = httpx.Limits(max_connections=count + 1)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), limits=limits) as client:
        tasks = [asyncio.create_task(read(client, url, counts, i, hello, ready))
                 for i in range(count)]
        await asyncio.wait_for(hello.wait(), 30)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(" ".join(map(str, counts)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
