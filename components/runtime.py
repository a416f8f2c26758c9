"""Process settings for the program, which pulumi runs as a plain Python process."""

from __future__ import annotations

import gc

# CPython collects the youngest generation every 700 allocations by default,
# and every tenth collection of the middle one may walk the whole heap. Every
# Output of the SDK is an asyncio task that lives until its values arrive, so
# most objects reach the oldest generation and the heap grows with the
# catalogue. On the benchmark's catalogue of 25 times the real one, collections took
# about two thirds of the render's CPU time (38.6 s, against 12.4 s with the
# collector off). A threshold of 20,000 still collects cycles and left the peak
# memory unchanged (scripts/benchmark.py measures both).
YOUNG_GENERATION_THRESHOLD = 20_000


def collect_garbage_less_often() -> None:
    """Raise the young generation's collection threshold, keeping the older two."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_GENERATION_THRESHOLD), middle, old)
