"""Which adapter reads a file (``--source auto``), from its extension and its first bytes.

JSON with a ``resourceType`` is FHIR; XML whose root is ``<HealthData>`` is an Apple
Health export; a CSV is told apart by its header: a Fitbit export (``Id`` + a known
Fitbit file's columns), the survey, the interactions history, or the seed CSV. Anything
else is a :class:`~health_advisor.errors.MalformedFileError` naming the file.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from health_advisor.errors import MalformedFileError
from health_advisor.ingest import fitbit, interactions, seed_csv, survey

__all__ = ["SNIFF_BYTES", "detect_source"]

SNIFF_BYTES = 64 * 1024
_RESOURCE = re.compile(rb'"resourceType"\s*:\s*"')
_ROOT = re.compile(rb"<(?![?!])([A-Za-z_][\w.-]*)")


def detect_source(path: Path) -> str:
    """One of ``csv``, ``fitbit``, ``fhir``, ``apple``, ``survey``, ``interactions``."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise MalformedFileError(path, None, f"cannot read file ({exc.strerror})") from exc
    body = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not body:
        raise MalformedFileError(path, 1, "file is empty")
    if b"\x00" in head:
        raise MalformedFileError(path, 1, "binary data (NUL byte): not a text file")
    suffix = path.suffix.lower()
    if suffix == ".json" or body[:1] in (b"{", b"["):
        if _RESOURCE.search(head):
            return "fhir"
        raise MalformedFileError(path, 1, "JSON without a FHIR resourceType: not a FHIR Bundle")
    if suffix == ".xml" or body[:1] == b"<":
        root = _ROOT.search(body)
        if root and root.group(1) == b"HealthData":
            return "apple"
        name = root.group(1).decode(errors="replace") if root else "none"
        raise MalformedFileError(path, 1, f"XML root <{name}> is not an Apple Health export")
    return _csv_kind(path, head)


def _csv_kind(path: Path, head: bytes) -> str:
    try:
        first = head.decode("utf-8-sig").splitlines()[0]
    except UnicodeDecodeError:
        first = head.decode("utf-8-sig", errors="replace").splitlines()[0]
    columns = {c.strip() for c in next(csv.reader(io.StringIO(first)), [])}
    if "Id" in columns and fitbit.detect_kind(sorted(columns)) is not None:
        return "fitbit"
    for source, required in (
        ("survey", survey.COLUMNS),
        ("interactions", interactions.COLUMNS),
        ("csv", seed_csv.REQUIRED),
    ):
        if set(required) <= columns:
            return source
    raise MalformedFileError(
        path, 1, f"unrecognised file: header {first[:120]!r} matches no known source"
    )
