"""The program's garbage collector settings, which keep full collections out of a render."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from components.runtime import YOUNG_GENERATION_THRESHOLD, collect_garbage_less_often
from render.engine import ROOT

# Renders both stacks in a fresh interpreter, so that no earlier test has
# already changed the thresholds or filled the heap. The program's imports,
# which run before it can change anything, come first.
COUNT_FULL_COLLECTIONS = """
import gc, json
import components.stacks
from render import render_stacks
gc.collect()
before = gc.get_stats()[2]["collections"]
render_stacks(["kscloud1", "monk"])
print(json.dumps({"full": gc.get_stats()[2]["collections"] - before}))
"""


@pytest.fixture
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


@pytest.mark.usefixtures("thresholds")
def test_raises_young_threshold() -> None:
    gc.set_threshold(700, 10, 10)
    collect_garbage_less_often()
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, 10, 10)


@pytest.mark.usefixtures("thresholds")
def test_keeps_higher_young_threshold() -> None:
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD * 2, 5, 20)
    collect_garbage_less_often()
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD * 2, 5, 20)


def test_render_runs_no_full_collection() -> None:
    # With CPython's default threshold of 700 this render runs one full
    # collection, and the benchmark's 25x catalogue about fifty.
    result = subprocess.run(
        [sys.executable, "-c", COUNT_FULL_COLLECTIONS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == {"full": 0}
