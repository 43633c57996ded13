"""Hypothesis profiles, and the machine's memory as the tests see it.

Hypothesis (>= 6.x; checked in 6.170) registers a built-in ``ci`` profile (derandomized,
no deadline, no database) and loads it by itself when the ``CI`` environment variable
(or a vendor's equivalent) is set; we leave that alone. The searches in
``wsmodel.properties.search`` pin their own settings on top of whatever is loaded and
are derandomized unless given a seed, so the verdicts pinned in tests do not depend on
the profile.

Added here: ``dev``, for quick local runs of the few ``@given`` tests, chosen with
``HYPOTHESIS_PROFILE=dev``. An explicit ``HYPOTHESIS_PROFILE`` wins over the automatic
``ci`` choice, except that it may not switch CI away from derandomized runs.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings
from wsmodel.properties import memory

settings.register_profile("dev", max_examples=20, deadline=None)

_chosen = os.environ.get("HYPOTHESIS_PROFILE")
if _chosen:
    settings.load_profile(_chosen)
    if os.environ.get("CI") and not settings.default.derandomize:
        raise RuntimeError(f"HYPOTHESIS_PROFILE={_chosen} would make CI runs random")


@pytest.fixture(autouse=True)
def _memory_to_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests do not depend on what else runs on the machine: as far as they can tell,
    it has memory to spare (the tests of the memory budget say otherwise themselves)."""
    monkeypatch.setattr(memory, "left_mb", lambda: None)
