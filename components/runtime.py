"""Process settings for the program, which pulumi runs as a plain Python process."""

from __future__ import annotations

import gc

# CPython collects the youngest generation every 700 allocations by default,
# and every tenth collection of the middle one may walk the whole heap. Every
# Output of the SDK is an asyncio task that lives until its values arrive, so
# most objects reach the oldest generation and the heap grows with the
# catalogue. A render of the benchmark's 25x catalogue (26 stacks) ran about 50
# full collections and took 35 to 39 s of CPU. With a threshold of 20,000 it
# ran 3 and took 25 to 28 s, with the same peak memory, and cycles are still
# collected (scripts/benchmark.py measures time and memory).
YOUNG_GENERATION_THRESHOLD = 20_000


def collect_garbage_less_often() -> None:
    """Raise the young generation's collection threshold, keeping the older two."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_GENERATION_THRESHOLD), middle, old)
