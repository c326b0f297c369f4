"""Validation shared by every adapter: readable files in, canonical rows and quarantine out.

Two layers, both used by each adapter in ``health_advisor.ingest``:

* File level (:func:`read_text`, :func:`read_csv`): a file that is empty, binary, not
  UTF-8, truncated or missing a required column raises
  :class:`~health_advisor.errors.MalformedFileError` naming the file and line, so the
  service writes nothing from it.
* Row level (:func:`normalise`): raw long rows (as the source gave them) become rows of
  ``MEASUREMENT_COLUMNS`` in canonical units, and every row that fails a check becomes a
  :class:`~health_advisor.ingest.base.QuarantinedRecord` with a one-line reason such as
  ``heart_rate: 312 /min outside 25-250``. The checks (present client id, numeric value,
  accepted unit, physiological range of ``core.metrics``, timezone-aware timestamp not in
  the future) are a pandera ``DataFrameSchema`` validated lazily, so all failures of all
  rows are collected in one vectorised pass.

Naive source times are the adapter's business: it localises them with :func:`localize`
or :func:`parse_times`, by default in the clinic's zone :data:`DEFAULT_TIMEZONE`.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from health_advisor.core.metrics import ALIASES, BY_CODE, name_for
from health_advisor.core.units import convert_series
from health_advisor.errors import MalformedFileError
from health_advisor.ingest.base import MEASUREMENT_COLUMNS, QuarantinedRecord


def _import_pandera() -> Any:
    """``pandera.pandas``, without pandera's eager ``import pyspark.pandas``.

    pandera's package init imports pandas-on-Spark whenever pyspark is installed (we
    install it for :class:`~health_advisor.recommender.spark_als.SparkALS`) only to patch
    its type hints, and its pandas check backend imports it again at the first
    ``validate`` if pyspark is loaded by then (after a Spark fit in the same process). We
    never use pandas-on-Spark, and that import is slow and warns under pandas 3, so it is
    made to fail (pandera catches the ImportError) while pandera and its check backend load.
    """
    blocked = "pyspark.pandas" not in sys.modules
    if blocked:
        sys.modules["pyspark.pandas"] = None  # type: ignore[assignment]
    try:
        import pandera.backends.pandas.builtin_checks  # noqa: F401  (registers checks now)
        import pandera.pandas as pandera_pandas
    finally:
        if blocked:
            del sys.modules["pyspark.pandas"]
    return pandera_pandas


if TYPE_CHECKING:
    import pandera.pandas as pa
else:
    pa = _import_pandera()

__all__ = [
    "DEFAULT_TIMEZONE",
    "FUTURE_GRACE",
    "RAW_COLUMNS",
    "LineSource",
    "localize",
    "normalise",
    "parse_iso_times",
    "parse_times",
    "quarantine_rows",
    "read_csv",
    "read_text",
    "wide_to_raw",
]

DEFAULT_TIMEZONE = "America/Lima"
"""Where naive source times are assumed to be: the clinic's zone (UTC-5, no DST)."""

FUTURE_GRACE = timedelta(hours=1)
"""How far past "now" a timestamp may be (device clocks drift) before it is rejected."""

RAW_COLUMNS: tuple[str, ...] = (
    "client_id",
    "metric",
    "original_value",
    "original_unit",
    "observed_at",
    "source_record",
    "line",
)
"""Columns every adapter passes to :func:`normalise`.

Optional: ``raw`` (the record's text; else looked up with ``lines``), ``field`` (the
source's field name, for reasons; else the metric name) and ``observed_text`` (the
timestamp as written, for the reason when it could not be parsed).
"""

_UTC = pd.DatetimeTZDtype("ns", "UTC")


# --- files ----------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """The file decoded as UTF-8 (a BOM is dropped), or MalformedFileError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MalformedFileError(path, None, f"cannot read file ({exc.strerror})") from exc
    if not data.strip():
        raise MalformedFileError(path, 1, "file is empty")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise MalformedFileError(path, line, "binary data (NUL byte): not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise MalformedFileError(
            path, line, f"not valid UTF-8 (byte 0x{byte}); save the file as UTF-8"
        ) from None


class LineSource:
    """Physical lines of a text, split only when a quarantined record needs its raw text."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: list[str] | None = None

    def __call__(self, line: int) -> str:
        if self._lines is None:
            self._lines = self._text.splitlines()
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""


_PARSER_LINE = re.compile(r"line (\d+)")


def read_csv(
    path: Path, *, required: Sequence[str], text: str | None = None
) -> tuple[pd.DataFrame, np.ndarray, LineSource]:
    """A CSV file as strings (empty field = NA), its records' line numbers, and its lines.

    Raises MalformedFileError for an unreadable file, a header without the ``required``
    columns, or a row with more fields than the header.
    """
    text = read_text(path) if text is None else text
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    columns = [c.strip() for c in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise MalformedFileError(
            path,
            1,
            f"missing required column(s) {', '.join(missing)} "
            f"(header has: {', '.join(columns) or 'nothing'})",
        )
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=True,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        found = _PARSER_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        raise MalformedFileError(path, line, f"not a valid CSV file ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, _record_lines(text, len(frame)), LineSource(text)


def _record_lines(text: str, n_records: int) -> np.ndarray:
    """1-based line where each CSV record starts (quoted newlines and blank lines aware)."""
    flat = text.replace("\r\n", "\n")
    if '"' not in flat and "\n\n" not in flat.rstrip("\n"):
        return np.arange(2, n_records + 2, dtype=np.int64)
    starts: list[int] = []
    reader = csv.reader(io.StringIO(flat))
    next(reader, None)
    previous_end = reader.line_num
    for row in reader:
        if row:
            starts.append(previous_end + 1)
        previous_end = reader.line_num
    # blank lines are counted by line_num but yield []: a record starts after them
    return np.asarray(_skip_blank_starts(flat, starts)[:n_records], dtype=np.int64)


def _skip_blank_starts(flat: str, starts: list[int]) -> list[int]:
    lines = flat.split("\n")
    fixed = []
    for start in starts:
        while start - 1 < len(lines) and not lines[start - 1].strip():
            start += 1
        fixed.append(start)
    return fixed


# --- rows the adapters set aside before normalising ---------------------------------


def quarantine_rows(
    mask: np.ndarray | pd.Series,
    reasons: pd.Series | str,
    *,
    field: str | None,
    lines: np.ndarray,
    source: Callable[[int], str],
    client_ids: pd.Series | None = None,
) -> list[QuarantinedRecord]:
    """Quarantine whole records (Python only over the masked rows)."""
    picked = np.flatnonzero(np.asarray(mask, dtype=bool))
    why = (
        [reasons] * len(picked)
        if isinstance(reasons, str)
        else reasons.iloc[picked].astype(str).tolist()
    )
    clients = [None] * len(picked) if client_ids is None else client_ids.iloc[picked].tolist()
    return [
        QuarantinedRecord(
            reason=reason,
            raw=source(int(lines[i])),
            line=int(lines[i]),
            field=field,
            client_id=None if client is None or pd.isna(client) else str(client),
        )
        for i, reason, client in zip(picked.tolist(), why, clients, strict=True)
    ]


def wide_to_raw(
    frame: pd.DataFrame,
    specs: Sequence[tuple[str, str, str]],
    *,
    client_ids: pd.Series,
    observed_at: pd.Series,
    source_records: pd.Series,
    lines: np.ndarray,
) -> pd.DataFrame:
    """Long raw rows (:data:`RAW_COLUMNS` + ``field``) from a wide frame.

    ``specs`` are ``(column, metric code, unit as given)``; empty cells are missing data,
    not errors, and produce no row. Row-aligned inputs are positional (index ignored);
    categorical client ids stay categorical (cheap on millions of rows).
    """
    picks = [np.flatnonzero(frame[column].notna().to_numpy()) for column, _, _ in specs]
    rows = np.concatenate([np.zeros(0, dtype=np.intp), *picks])
    spec = np.repeat(np.arange(len(specs)), [len(p) for p in picks])
    values = [
        frame[column].to_numpy(dtype=object)[p]
        for (column, _, _), p in zip(specs, picks, strict=True)
    ]

    def constant(position: int) -> pd.Categorical:
        labels = [s[position] for s in specs]
        small = pd.Categorical(labels)
        return pd.Categorical.from_codes(small.codes[spec], categories=small.categories)

    stamps = observed_at.dt.tz_convert("UTC").reset_index(drop=True)
    return pd.DataFrame(
        {
            "client_id": client_ids.reset_index(drop=True).take(rows).reset_index(drop=True),
            "metric": constant(1),
            "original_value": _join_values(values),
            "original_unit": constant(2),
            "observed_at": stamps.take(rows).reset_index(drop=True),
            "source_record": source_records.reset_index(drop=True)
            .take(rows)
            .reset_index(drop=True),
            "line": np.asarray(lines)[rows],
            "field": constant(0),
        }
    )


def _join_values(values: list[np.ndarray]) -> np.ndarray:
    """Concatenate value columns; all-numeric ones stay float (no object round trip)."""
    if not values:
        return np.zeros(0, dtype=np.float64)
    joined = np.concatenate(values)
    try:
        return joined.astype(np.float64)
    except (TypeError, ValueError):
        return joined


# --- time -----------------------------------------------------------------------------


def localize(naive: pd.Series, tz: str = DEFAULT_TIMEZONE) -> pd.Series:
    """Naive local times as UTC; a time that does not exist or is ambiguous becomes NaT."""
    stamps = pd.to_datetime(naive)
    if getattr(stamps.dt, "tz", None) is not None:
        return stamps.dt.tz_convert("UTC").dt.as_unit("ns")
    local = stamps.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return local.dt.tz_convert("UTC").dt.as_unit("ns")


def parse_times(text: pd.Series, fmt: str, tz: str = DEFAULT_TIMEZONE) -> pd.Series:
    """Naive local times written in ``fmt`` as UTC; unparseable text becomes NaT."""
    stamps = pd.to_datetime(text, format=fmt, errors="coerce", cache=True)
    return localize(stamps, tz)


_OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$", re.IGNORECASE)


def parse_iso_times(text: pd.Series, tz: str = DEFAULT_TIMEZONE) -> pd.Series:
    """ISO 8601 dates or times, with or without an offset, as UTC.

    Times with an offset keep it; naive times and bare dates are local times in ``tz``.
    Unparseable text becomes NaT.
    """
    strings = text.astype("string").str.strip()
    aware = strings.str.contains(_OFFSET, na=False).to_numpy(dtype=bool)
    out = pd.Series(pd.NaT, index=text.index, dtype=_UTC)
    if aware.any():
        parsed = pd.to_datetime(strings[aware], format="ISO8601", utc=True, errors="coerce")
        out[aware] = parsed.dt.as_unit("ns")
    if (~aware).any():
        naive = pd.to_datetime(strings[~aware], format="ISO8601", errors="coerce")
        out[~aware] = localize(naive, tz)
    return out


# --- rows -----------------------------------------------------------------------------


def _factor(values: pd.Series) -> pd.Series:
    """Strings as a categorical, stripped, blank -> NA (work done once per distinct value)."""
    idx, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = [str(u).strip() for u in uniques]
    small = pd.Categorical([label or None for label in labels])
    codes = np.where(idx >= 0, small.codes[np.maximum(idx, 0)], -1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=small.categories), values.index)


def _bounds(metrics: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Physiological low/high per row (NaN for codes not listed in core.metrics)."""
    categorical = metrics.cat
    low = np.full(len(categorical.categories) + 1, np.nan)  # last slot: missing code
    high = low.copy()
    for i, code in enumerate(categorical.categories):
        metric = BY_CODE.get(ALIASES.get(code, code))
        if metric is not None:
            low[i], high[i] = metric.low, metric.high
    codes = categorical.codes.to_numpy()
    return low[codes], high[codes]


def _schema(
    low: np.ndarray, high: np.ndarray, unit_ok: np.ndarray, latest: pd.Timestamp
) -> pa.DataFrameSchema:
    """The row checks. Bounds and unit verdicts are per row, so the schema is per call."""

    def within_bounds(values: pd.Series) -> pd.Series:
        at = values.index.to_numpy()  # positions: the frame has a RangeIndex
        v, lo, hi = values.to_numpy(dtype=np.float64, na_value=np.nan), low[at], high[at]
        ok = np.isnan(lo) | np.isnan(v) | ((v >= lo) & (v <= hi))
        return pd.Series(ok, index=values.index)

    def unit_accepted(units: pd.Series) -> pd.Series:
        return pd.Series(unit_ok[units.index.to_numpy()], index=units.index)

    def is_finite(values: pd.Series) -> pd.Series:
        return pd.Series(np.isfinite(values.to_numpy(np.float64, na_value=np.nan)), values.index)

    return pa.DataFrameSchema(
        {
            "client_id": pa.Column(nullable=False),
            "metric": pa.Column(nullable=False),
            "original_value": pa.Column(
                "float64", pa.Check(is_finite, ignore_na=False, name="numeric"), nullable=True
            ),
            "original_unit": pa.Column(
                checks=pa.Check(unit_accepted, ignore_na=False, name="unit"), nullable=True
            ),
            "value": pa.Column(
                "float64", pa.Check(within_bounds, ignore_na=False, name="range"), nullable=True
            ),
            "observed_at": pa.Column(
                _UTC, pa.Check(lambda s: s <= latest, name="not_future"), nullable=False
            ),
        },
        strict=False,
    )


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    """(row position, column, check) of every failed check; empty when all rows pass."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        broken = cases[cases["index"].isna()]
        if len(broken):  # a wrong dtype or a check that crashed: a bug, not bad data
            detail = "; ".join(f"{r.column}: {r.failure_case}" for r in broken.itertuples())
            raise TypeError(f"{origin}: raw rows do not match the contract ({detail})") from exc
        return cases[["index", "column", "check"]].astype({"index": "int64"})
    return pd.DataFrame({"index": pd.Series(dtype="int64"), "column": [], "check": []})


def _num(value: float) -> str:
    return f"{value:.6g}"


def _reason(check: str, column: str, row: dict[str, Any], hint: str) -> str:
    """One line naming the field and what was expected."""
    name = str(row["field"])
    if column == "client_id":
        return "client_id: missing"
    if check == "numeric":
        return f"{name}: {row['raw_value']!r} is not a number"
    if check == "unit":
        return f"{name}: {row['unit_error']}"
    if check == "range":
        shown = f"{_num(row['value'])} {row['unit']}"
        if row["original_unit"] != row["unit"] or row["original_value"] != row["value"]:
            shown += f" (given {_num(row['original_value'])} {row['original_unit']})"
        return f"{name}: {shown} outside {_num(row['low'])}-{_num(row['high'])}"
    if check == "not_future":
        return f"observed_at: {row['observed_at'].isoformat()} is in the future"
    if column == "observed_at":
        written = row.get("observed_text")
        if written is None or pd.isna(written):
            return f"observed_at: missing or invalid time (expected {hint})"
        return f"observed_at: {str(written)!r} is not a valid time (expected {hint})"
    return f"{column}: failed {check}"


def normalise(
    raw: pd.DataFrame,
    *,
    origin: str,
    now: pd.Timestamp | None = None,
    lines: Callable[[int], str] | None = None,
    time_hint: str = "a date and time with a time zone",
) -> tuple[pd.DataFrame, list[QuarantinedRecord]]:
    """Canonical measurement rows and the quarantined rest, from an adapter's raw rows.

    ``raw`` has :data:`RAW_COLUMNS` (``observed_at`` timezone-aware, NaT where the adapter
    could not parse the time). ``origin`` names the source in programming-error messages;
    ``now`` (default: the current time) bounds timestamps; ``lines`` gives the raw text of
    a line when ``raw`` has no ``raw`` column; ``time_hint`` says what a valid timestamp
    looks like, for reasons.
    """
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise TypeError(f"{origin}: raw rows lack column(s) {', '.join(missing)}")
    stamps = raw["observed_at"]
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        raise TypeError(f"{origin}: observed_at must be timezone-aware, got {stamps.dtype}")
    frame = _candidates(raw.reset_index(drop=True))
    latest = (now if now is not None else pd.Timestamp.now(tz="UTC")) + FUTURE_GRACE
    unit_ok = frame["unit_error"].isna().to_numpy()
    low, high = _bounds(frame["metric"])
    failures = _failures(_schema(low, high, unit_ok, latest), frame, origin)
    bad = np.zeros(len(frame), dtype=bool)
    bad[failures["index"].to_numpy()] = True
    good = frame.loc[~bad, list(MEASUREMENT_COLUMNS)].reset_index(drop=True)
    good = good.astype(MEASUREMENT_COLUMNS)
    frame["low"], frame["high"] = low, high
    return good, _quarantine(frame, failures, lines, time_hint)


def _candidates(raw: pd.DataFrame) -> pd.DataFrame:
    """The raw rows with numeric values, canonical values and units, and UTC times."""
    raw_value = raw["original_value"]
    numeric = pd.to_numeric(raw_value, errors="coerce").astype("float64")
    numeric = numeric.where(np.isfinite(numeric.to_numpy(na_value=np.nan)))
    value, unit, unit_error = convert_series(numeric, raw["original_unit"], raw["metric"])
    metric = _factor(raw["metric"])
    field = _factor(raw["field"]) if "field" in raw.columns else metric
    frame = pd.DataFrame(
        {
            "client_id": _factor(raw["client_id"]),
            "metric": metric,
            "value": value,
            "unit": unit,
            "original_value": numeric,
            "original_unit": _factor(raw["original_unit"]),
            "observed_at": raw["observed_at"].dt.tz_convert("UTC").dt.as_unit("ns"),
            "source_record": raw["source_record"],
            "line": raw["line"],
            "raw_value": raw_value,
            "unit_error": unit_error,
        }
    )
    frame["field"] = field
    for optional in ("raw", "observed_text"):
        if optional in raw.columns:
            frame[optional] = raw[optional]
    return frame


def _quarantine(
    frame: pd.DataFrame,
    failures: pd.DataFrame,
    lines: Callable[[int], str] | None,
    hint: str,
) -> list[QuarantinedRecord]:
    """One record per failing row, its reasons joined (Python only over failures)."""
    if failures.empty:
        return []
    failing = failures.drop_duplicates().sort_values("index", kind="stable")
    positions = failing["index"].unique()
    subset = frame.iloc[positions]
    subset = subset.assign(field=subset["field"].map(_field_name))
    rows = dict(zip(positions.tolist(), subset.to_dict("records"), strict=True))
    reasons: dict[int, list[str]] = {p: [] for p in rows}
    for position, column, check in failing.itertuples(index=False):
        reasons[position].append(_reason(str(check), str(column), rows[position], hint))
    return [_record(rows[p], "; ".join(dict.fromkeys(reasons[p])), lines) for p in rows]


def _field_name(field: Any) -> str:
    """A metric code shown by its readable name (``8867-4`` -> ``heart_rate``)."""
    return "value" if field is None or pd.isna(field) else name_for(str(field))


def _record(
    row: dict[str, Any], reason: str, lines: Callable[[int], str] | None
) -> QuarantinedRecord:
    line = None if pd.isna(row["line"]) else int(row["line"])
    raw_text = row.get("raw")
    if (raw_text is None or pd.isna(raw_text)) and lines is not None and line is not None:
        raw_text = lines(line)
    client = row["client_id"]
    return QuarantinedRecord(
        reason=reason,
        raw="" if raw_text is None or pd.isna(raw_text) else str(raw_text),
        line=line,
        field=str(row["field"]),
        client_id=None if client is None or pd.isna(client) else str(client),
    )
