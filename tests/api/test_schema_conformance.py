"""Schemathesis against the app's own OpenAPI schema: no 500s, answers match the schema.

Every operation is driven with generated requests (as an administrator, who may call
everything): valid ones here (positive mode) and, in ``test_schema_negative.py``, invalid
ones (negative mode, which must be refused with a 4xx). A bounded, derandomised
number per operation keeps the run short and repeatable. Checked: no server error, a
documented status code, the documented content type (problem+json for errors), the
documented headers and a body that validates against the response schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import World

EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def drive(world: World, mode: schemathesis.GenerationMode) -> list[str]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    headers = world.headers("admin")
    checks = CHECKS + ([negative_data_rejection] if mode.is_negative else [])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        try:
            run()
        except Unsatisfiable:
            if not mode.is_negative:  # nothing to break in an operation without inputs
                failures.append(f"{operation.label}: no valid request could be generated")
        except Exception as exc:  # collect every operation's failure, then report
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


def test_valid_requests_conform(world: World) -> None:
    failures = drive(world, schemathesis.GenerationMode.POSITIVE)
    if failures:
        pytest.fail("\n\n".join(failures))
