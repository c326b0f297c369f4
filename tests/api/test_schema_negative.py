"""Schemathesis negative mode: requests that break the schema are refused with a 4xx
(never a 500), as problem+json that conforms. The driver is in
``test_schema_conformance.py``; a separate file keeps each under the suite's time budget.
"""

from __future__ import annotations

import pytest
import schemathesis

from .conftest import World
from .test_schema_conformance import drive


def test_invalid_requests_are_refused_and_conform(world: World) -> None:
    failures = drive(world, schemathesis.GenerationMode.NEGATIVE)
    if failures:
        pytest.fail("\n\n".join(failures))
