"""Measurements: read a client's, ingest a JSON batch, upload a file."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from health_advisor.api import ingest
from health_advisor.api.deps import Ctx
from health_advisor.api.pagination import Page, Paging
from health_advisor.api.schemas import ClientIdPath, IsoDateTime, ShortText
from health_advisor.core.metrics import name_for
from health_advisor.security.access import Action
from health_advisor.store.models import Measurement

router = APIRouter(tags=["measurements"])
SOURCES = Literal["auto", "csv", "fitbit", "fhir", "apple", "survey", "interactions"]


class MeasurementOut(BaseModel):
    metric: str
    name: str
    value: float
    unit: str
    original_value: float
    original_unit: str
    observed_at: dt.datetime
    source_record: str


class MeasurementIn(BaseModel):
    metric: ShortText = Field(description="a metric name (steps) or code (41950-7)")
    value: float = Field(allow_inf_nan=False)
    unit: ShortText | None = Field(None, description="default: the metric's canonical unit")
    observed_at: dt.datetime = Field(description="without an offset: the clinic's time zone")
    record_id: ShortText | None = Field(None, description="the device's id for the record")


class BatchIn(BaseModel):
    kind: Literal["wearable", "manual"] = Field(
        "wearable", description="wearable data needs the client's wearable_ingestion consent"
    )
    measurements: list[MeasurementIn] = Field(min_length=1, max_length=5000)


class IngestOut(BaseModel):
    path: str
    kind: str
    sha256: str
    status: str
    records_read: int
    clients: int
    measurements: int
    duplicates: int
    interactions: int
    surveys: int
    quarantined: int
    source_id: int | None
    quarantine: list[str] = Field(description="why records were quarantined (first 100)")


@router.get(
    "/api/v1/clients/{client_id}/measurements",
    response_model=Page[MeasurementOut],
    summary="A client's measurements, newest first",
)
def list_measurements(
    client_id: ClientIdPath,
    ctx: Ctx,
    paging: Paging,
    metric: Annotated[ShortText | None, Query(description="name or code")] = None,
    since: Annotated[IsoDateTime | None, Query(description="inclusive; no offset: UTC")] = None,
    until: Annotated[IsoDateTime | None, Query(description="exclusive; no offset: UTC")] = None,
) -> Page[MeasurementOut]:
    client = ctx.client(client_id, Action.READ)
    query = select(Measurement).where(Measurement.client_id == client.id)
    if metric:
        query = query.where(Measurement.metric == (ingest.resolve_metric(metric) or metric))
    if since:
        query = query.where(Measurement.observed_at >= _aware(since))
    if until:
        query = query.where(Measurement.observed_at < _aware(until))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.scalars(
        query.order_by(Measurement.observed_at.desc(), Measurement.id.desc())
        .limit(paging.limit)
        .offset(paging.offset)
    )
    items = [
        MeasurementOut(
            metric=m.metric,
            name=name_for(m.metric),
            value=m.value,
            unit=m.unit,
            original_value=m.original_value,
            original_unit=m.original_unit,
            observed_at=m.observed_at,
            source_record=m.source_record,
        )
        for m in rows
    ]
    ctx.audit("read", "measurements", client_id, client_id, metric=metric, count=len(items))
    return Page(items=items, total=total, **paging.model_dump())


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@router.post(
    "/api/v1/clients/{client_id}/measurements",
    response_model=IngestOut,
    status_code=201,
    summary="Ingest a batch of a client's measurements (validated like files)",
    responses={409: {}},
)
def ingest_batch(client_id: ClientIdPath, body: BatchIn, ctx: Ctx) -> IngestOut:
    client = ctx.client(client_id, Action.INGEST)
    items = [m.model_dump(mode="json", exclude_none=True) for m in body.measurements]
    # A machine key speaks for a wearable bridge: its data is wearable whatever it says.
    wearable = body.kind == "wearable" or ctx.principal.role == "service"
    report, reasons = ingest.ingest_batch(
        ctx.session, ctx.principal, client, items, wearable=wearable
    )
    ctx.audit(
        "ingest",
        "data_source",
        report.source_id,
        client_id,
        kind=body.kind,
        status=report.status,
        measurements=report.measurements,
    )
    return IngestOut(**ingest.report_dict(report, reasons))


@router.post(
    "/api/v1/measurements/files",
    response_model=IngestOut,
    status_code=201,
    summary="Upload a file (clinic CSV, Fitbit, FHIR, Apple Health, survey, interactions)",
    responses={409: {}, 413: {}},
)
def upload_file(
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="the file, as exported by its source")],
    source: Annotated[SOURCES, Form()] = "auto",
) -> IngestOut:
    ctx.require_role("admin", "coordinator", "service")
    with tempfile.TemporaryDirectory(prefix="ha-upload-") as folder:
        path = ingest.save_upload(file.file, file.filename, Path(folder))
        report, clients, reasons = ingest.ingest_upload(
            ctx.session, ctx.principal, path, source=source
        )
    for client_ref in clients:
        ctx.audit("ingest", "data_source", report.source_id, client_ref, kind=report.kind)
    if not clients:
        ctx.audit("ingest", "data_source", report.source_id, None, status=report.status)
    return IngestOut(**ingest.report_dict(report, reasons))
