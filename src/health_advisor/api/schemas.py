"""Types shared by the routers: path parameters and safe text.

``SafeText`` refuses NUL and other control characters: PostgreSQL cannot store NUL in
text, and nothing a person types needs them. ``ClientIdPath`` is a client's external id
as the source gave it (a Fitbit Id, a FHIR Patient id, a CSV's client_id).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator, StringConstraints

_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
_ID = r"^[^\x00-\x1f\x7f/]+$"

SafeText = Annotated[str, StringConstraints(pattern=_NO_CONTROL, max_length=2000)]
ShortText = Annotated[str, StringConstraints(pattern=_NO_CONTROL, max_length=128)]
ClientRef = Annotated[str, StringConstraints(pattern=_ID, min_length=1, max_length=64)]
ClientIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=_ID,
        description="the client's id as its source gave it",
    ),
]
NO_CONTROL = _NO_CONTROL
ID_PATTERN = _ID
Email = Annotated[
    str,
    StringConstraints(
        pattern=r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+$", max_length=254
    ),
]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{5,32}$")]


_NUMBER = re.compile(r"^\s*[+-]?\d+(\.\d+)?\s*$")


def _iso_only(value: Any) -> Any:
    """Refuse numbers where a date-time is expected: pydantic would read "1700000000" as
    a Unix time, which the schema (ISO 8601 ``date-time``) does not allow."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("expected an ISO 8601 date-time such as 2026-11-30T08:00:00Z")
    return value


IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_only)]
