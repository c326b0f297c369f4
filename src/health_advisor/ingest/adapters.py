"""The registry of source adapters, and :func:`parse_file` that picks one.

Every adapter is ``parse(path) -> ParseResult`` (keyword options such as ``tz`` have
defaults), pure: it reads one file and writes nothing. The ingest service calls
:func:`parse_file` and stores the result in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from health_advisor.errors import InputError
from health_advisor.ingest import apple, fhir, fitbit, interactions, seed_csv, survey
from health_advisor.ingest.base import ParseResult
from health_advisor.ingest.detect import detect_source

__all__ = ["ADAPTERS", "SOURCES", "parse_file"]

ADAPTERS: dict[str, Callable[[Path], ParseResult]] = {
    "csv": seed_csv.parse,
    "fitbit": fitbit.parse,
    "fhir": fhir.parse,
    "apple": apple.parse,
    "survey": survey.parse,
    "interactions": interactions.parse,
}
SOURCES: tuple[str, ...] = ("auto", *ADAPTERS)


def parse_file(path: Path, source: str = "auto") -> ParseResult:
    """Parse ``path`` with the adapter for ``source`` (``auto``: detected from the file)."""
    if source != "auto" and source not in ADAPTERS:
        raise InputError(f"unknown source {source!r} (expected one of {', '.join(SOURCES)})")
    kind = detect_source(path) if source == "auto" else source
    return ADAPTERS[kind](path)
