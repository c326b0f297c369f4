"""Measurements through the API: JSON batches and uploaded files, with the CLI's rules.

Both paths reuse the ingest package: a JSON batch becomes raw long rows checked by the
shared :func:`~health_advisor.ingest.validation.normalise` (units, ranges, times, with
bad rows quarantined, never dropped) and an upload is parsed by the same adapters as
``health-advisor ingest``. Both are stored by the ingest service's writer with lineage
(sha256: the same batch or file twice is ``unchanged``), in the request's transaction,
after the access and consent checks:

* every client in the data must be within the principal's reach (``Action.INGEST``);
  only an administrator's non-wearable files may bring new clients;
* wearable data (a JSON batch of kind ``wearable``, Fitbit and Apple Health files)
  needs each client's recorded ``wearable_ingestion`` consent.

pandas and the adapters load on first use, not at server start.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from health_advisor.core.metrics import BY_NAME, lookup
from health_advisor.errors import ConflictError, InputError
from health_advisor.security import access, consent
from health_advisor.security.access import Action, Principal
from health_advisor.store.models import Client

if TYPE_CHECKING:
    from health_advisor.ingest.base import ParseResult
    from health_advisor.ingest.service import IngestReport

WEARABLE_SOURCES = frozenset({"fitbit", "apple"})
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class UploadTooLarge(InputError):
    http_status = 413
    title = "Upload too large"


def resolve_metric(given: str) -> str | None:
    """The stored code for a metric name (``steps``) or code (``41950-7``); None if unknown."""
    if given in BY_NAME:
        return BY_NAME[given].code
    metric = lookup(given)
    return metric.code if metric else None


def batch_to_result(
    client_id: str, items: list[dict[str, Any]], *, now: datetime | None = None
) -> ParseResult:
    """A JSON batch as a ParseResult (source kind ``api``), validated like a file."""
    import pandas as pd

    from health_advisor.ingest.base import ParseResult, QuarantinedRecord
    from health_advisor.ingest.validation import DEFAULT_TIMEZONE, normalise

    rows, rejected = [], []
    for line, item in enumerate(items, start=1):
        raw = json.dumps(item, sort_keys=True, default=str)
        code = resolve_metric(item["metric"])
        if code is None:
            reason = f"metric: unknown metric {item['metric']!r}"
            rejected.append(QuarantinedRecord(reason, raw, line, "metric", client_id))
            continue
        stamp = pd.Timestamp(item["observed_at"])
        if stamp.tzinfo is None:  # the clinic's zone, as for files
            stamp = stamp.tz_localize(DEFAULT_TIMEZONE)
        rows.append(
            {
                "client_id": client_id,
                "metric": code,
                "original_value": item["value"],
                "original_unit": item.get("unit") or lookup(code).unit,  # type: ignore[union-attr]
                "observed_at": stamp,
                "source_record": item.get("record_id") or f"api:{code}:{stamp.isoformat()}",
                "line": line,
                "raw": raw,
                "field": code,
            }
        )
    columns = [
        "client_id",
        "metric",
        "original_value",
        "original_unit",
        "observed_at",
        "source_record",
        "line",
        "raw",
        "field",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    frame["original_value"] = frame["original_value"].astype("float64")
    now_ts = pd.Timestamp(now) if now is not None else None
    measurements, bad = normalise(frame, origin="api batch", now=now_ts)
    return ParseResult(
        source_kind="api",
        measurements=measurements,
        quarantine=sorted(rejected + bad, key=lambda q: q.line or 0),
        records_read=len(items),
    )


def batch_digest(client_id: str, items: list[dict[str, Any]]) -> tuple[bytes, str]:
    body = json.dumps({"client_id": client_id, "measurements": items}, sort_keys=True, default=str)
    data = body.encode()
    return data, hashlib.sha256(data).hexdigest()


def ingest_batch(
    session: Session,
    principal: Principal,
    client: Client,
    items: list[dict[str, Any]],
    *,
    wearable: bool,
) -> tuple[IngestReport, list[str]]:
    """Store a JSON batch for one client (access already checked by the caller); the
    report and the reasons rows were quarantined."""
    from health_advisor.store import repositories

    if wearable:
        consent.require_consent(session, client, consent.WEARABLE_INGESTION)
    data, sha = batch_digest(client.external_id, items)
    known = repositories.source_by_sha(session=session, sha256=sha)
    if known is not None:
        return _unchanged(f"api batch {sha[:12]}", known.kind, sha, known.id), []
    result = batch_to_result(client.external_id, items)
    with tempfile.TemporaryDirectory(prefix="ha-batch-") as folder:
        path = Path(folder) / f"api-batch-{sha[:16]}.json"
        path.write_bytes(data)
        from health_advisor.ingest.service import store_parsed

        report = store_parsed(session, path, sha, result)
    return report, reasons(result)


def save_upload(stream: BinaryIO, filename: str | None, folder: Path) -> Path:
    """Copy an upload to ``folder`` (bounded size); the name keeps only safe characters,
    since adapters read the suffix (and Apple exports the stem, as the client id)."""
    name = _SAFE_NAME.sub("_", Path(filename or "upload").name)[:120] or "upload"
    path = folder / name
    written = 0
    with path.open("wb") as out:
        while chunk := stream.read(1 << 20):
            written += len(chunk)
            if written > MAX_UPLOAD_BYTES:
                raise UploadTooLarge(f"upload exceeds {MAX_UPLOAD_BYTES // (1 << 20)} MiB")
            out.write(chunk)
    if written == 0:
        raise InputError(f"{name}: file is empty")
    return path


def ingest_upload(
    session: Session, principal: Principal, path: Path, *, source: str = "auto"
) -> tuple[IngestReport, list[str], list[str]]:
    """Store an uploaded file after the access and consent checks; the report, the
    external ids of the clients it touched and the quarantine reasons."""
    from health_advisor.ingest.adapters import parse_file
    from health_advisor.ingest.service import file_sha256
    from health_advisor.store import repositories

    sha = file_sha256(path)
    known = repositories.source_by_sha(session=session, sha256=sha)
    if known is not None:
        return _unchanged(str(path.name), known.kind, sha, known.id), [], []
    result = parse_file(path, source)
    ids = sorted(clients_in(result))
    wearable = result.source_kind in WEARABLE_SOURCES
    existing = _check_clients(session, principal, ids, allow_new=not wearable)
    if wearable:
        _require_consents(session, existing)
    from health_advisor.ingest.service import store_parsed

    return store_parsed(session, path, sha, result), ids, reasons(result)


def reasons(result: ParseResult, limit: int = 100) -> list[str]:
    """The first quarantine reasons, with their line, for the answer."""
    return [f"line {q.line}: {q.reason}" if q.line else q.reason for q in result.quarantine[:limit]]


def clients_in(result: ParseResult) -> set[str]:
    ids = {c.client_id for c in result.clients}
    ids.update(result.measurements["client_id"].dropna().astype(str).unique())
    ids.update(result.interactions["client_id"].dropna().astype(str).unique())
    ids.update(str(s["client_id"]) for s in result.surveys)
    return ids


def _check_clients(
    session: Session, principal: Principal, ids: list[str], *, allow_new: bool
) -> dict[str, int]:
    if principal.role == "admin":
        rows = session.execute(
            select(Client.external_id, Client.id).where(Client.external_id.in_(ids))
        )
        found = {ext: pk for ext, pk in rows}
        missing = [i for i in ids if i not in found]
        if missing and not allow_new:
            raise ConflictError(
                f"unknown client {missing[0]!r}: register the client and record consent first"
            )
        return found
    return access.require_clients(session, principal, ids, Action.INGEST)


def _require_consents(session: Session, clients: dict[str, int]) -> None:
    lacking = set(consent.without_consent(session, clients.values(), consent.WEARABLE_INGESTION))
    if lacking:
        names = sorted(ext for ext, pk in clients.items() if pk in lacking)
        shown = ", ".join(repr(n) for n in names[:5])
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        raise ConflictError(
            f"no recorded consent for wearable_ingestion: client {shown}{more}; nothing stored"
        )


def _unchanged(name: str, kind: str, sha: str, source_id: int) -> IngestReport:
    from health_advisor.ingest.service import IngestReport

    return IngestReport(name, kind, sha, "unchanged", source_id=source_id)


def report_dict(report: IngestReport, quarantine: Iterable[str] = ()) -> dict[str, Any]:
    out = asdict(report)
    out["path"] = Path(out["path"]).name
    out["quarantine"] = list(quarantine)
    return out
