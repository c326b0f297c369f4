"""Anomaly alerts: departures from a client's own baseline worth a professional's look.

Rules (thresholds in :class:`AnomalyRules`; every comparison is against the client's own
trailing baseline, never a population norm):

* ``rhr_elevated`` (warning): resting heart rate at least ``rhr_mad_k`` baseline MADs
  (raw MAD, floored at ``rhr_min_mad`` bpm) above the median of the 28 days before each
  day, on ``rhr_min_days`` or more consecutive days. Typical of infection, poor recovery
  or stress.
* ``steps_collapse`` (warning): the 7-day mean of daily steps below ``steps_ratio`` of the
  median of the 28 days before that week.
* ``sleep_debt`` (info): the 7-day mean of sleep below ``sleep_floor_hours``, or more
  than ``sleep_drop_hours`` under the median of the 28 days before that week; spells
  less than ``sleep_merge_gap_days`` apart are one alert (a habitual short sleeper whose
  weekly mean hovers around the floor is told once, not every time it dips).
* ``possible_illness`` (info; warning from a score of ``illness_warning_score``): the
  three signals an infection moves (resting heart rate up, steps down, sleep longer;
  Radin et al., Lancet Digital Health 2020; Mishra et al., Nat Biomed Eng 2020) pooled
  into one daily evidence score. Each day's value becomes a robust z-score against the
  trailing 28-day baseline, ``(x - median) / (1.4826 * MAD)`` with a floor under the MAD
  (steps on a log scale), oriented so that positive points to an illness and clipped to
  ``illness_z_clip``; over each window of ``illness_windows`` days ending on the day the
  observed z-scores are pooled as ``sum(z) / sqrt(n)`` (Stouffer), about N(0, 1) on
  ordinary days whatever signals a client has (Fitbit exports carry no resting heart
  rate); the score is the best window's. An alert is a run of ``illness_min_days`` days
  scoring at least ``illness_score``; its window starts where the evidence of its first
  day starts. The explanation lists each signal against its usual level.
* ``hypertensive_crisis`` (urgent): any reading with systolic > 180 or diastolic > 120
  mm Hg (ACC/AHA 2017), one alert per client and day.

:data:`ILLNESS_KINDS` names the kinds meant to flag a possible illness. The defaults were
tuned on the synthetic clinic's injected illness episodes (seed 1) and confirmed on
another seed (``bench/anomalies.py``): precision 0.92 at recall 0.81 overall; 0.95 /
0.95 where a daily resting heart rate exists, 0.84 / 0.60 from steps and sleep alone.

Values are range-checked and non-wear days removed, but outliers are *not* removed: an
illness looks exactly like a run of outliers. 7-day means need 4 observed days.

Each alert is one row: ``client_id, kind, severity, metric, window_start, window_end,
value, baseline, explanation, dedup_key``. The dedup key is ``client|kind|window_start``,
so re-running detection over overlapping history yields the same keys for the same
episodes and the store keeps one alert each. Every rule looks only backwards (trailing
baselines and windows), and :func:`detect_anomalies` reads ``LOOKBACK_DAYS`` more than
the days it reports on, so every reported day has a full baseline and a weekly rerun
finds the same window starts as the run before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from health_advisor.core import guidelines as g
from health_advisor.core import metrics
from health_advisor.features.baselines import BASELINE_DAYS, MAD_TO_SD, rolling_baseline
from health_advisor.features.cleaning import non_wear_mask, out_of_range_mask
from health_advisor.features.cube import DailyCube, FloatArray, cube_from_long
from health_advisor.features.snapshot import client_universe, cutoff_for

HISTORY_DAYS = 90
LOOKBACK_DAYS = BASELINE_DAYS + 7  # a full baseline before a 7-day window
MIN_WINDOW_VALUES = 4
WEEK = 7

ALERT_COLUMNS: tuple[str, ...] = (
    "client_id",
    "kind",
    "severity",
    "metric",
    "window_start",
    "window_end",
    "value",
    "baseline",
    "explanation",
    "dedup_key",
)

#: The kinds meant to flag a possible illness (what the illness benchmark scores).
ILLNESS_KINDS: tuple[str, ...] = ("possible_illness", "rhr_elevated", "steps_collapse")

_RHR, _STEPS, _SLEEP = (
    metrics.code_for(n) for n in ("resting_heart_rate", "steps", "sleep_duration")
)
_SYS, _DIA = metrics.code_for("systolic_bp"), metrics.code_for("diastolic_bp")


@dataclass(frozen=True, slots=True)
class AnomalyRules:
    """Thresholds of the rules (see the module docstring for what each one means)."""

    rhr_mad_k: float = 3.0
    rhr_min_mad: float = 1.0
    rhr_min_days: int = 3
    steps_ratio: float = 0.5
    sleep_floor_hours: float = 6.0
    sleep_drop_hours: float = 1.5
    sleep_merge_gap_days: int = 7
    illness_score: float = 4.5
    illness_warning_score: float = 7.0
    illness_min_days: int = 2
    illness_windows: tuple[int, ...] = (3, 5, 7)
    illness_z_clip: tuple[float, float] = (-2.0, 4.0)
    illness_min_values: int = 2
    min_mad_log_steps: float = 0.1
    min_mad_sleep_hours: float = 0.25


@dataclass(frozen=True, slots=True)
class Runs:
    """Runs of consecutive True days: client row, first and last day index."""

    client: npt.NDArray[np.intp]
    start: npt.NDArray[np.intp]
    end: npt.NDArray[np.intp]


def find_runs(mask: npt.NDArray[np.bool_], min_length: int = 1) -> Runs:
    """Every run of at least ``min_length`` consecutive True values along each row."""
    padded = np.pad(mask, ((0, 0), (1, 1)), constant_values=False).astype(np.int8)
    edges = np.diff(padded, axis=1)
    c_start, d_start = np.nonzero(edges == 1)
    _, d_end = np.nonzero(edges == -1)
    keep = (d_end - d_start) >= min_length
    return Runs(c_start[keep], d_start[keep], d_end[keep] - 1)


def _run_means(x: FloatArray, runs: Runs) -> FloatArray:
    """Mean of the observed values of ``x`` within each run."""
    seen = ~np.isnan(x)
    total = np.pad(np.cumsum(np.where(seen, x, 0.0), axis=1), ((0, 0), (1, 0)))
    count = np.pad(np.cumsum(seen, axis=1), ((0, 0), (1, 0)))
    s = total[runs.client, runs.end + 1] - total[runs.client, runs.start]
    n = count[runs.client, runs.end + 1] - count[runs.client, runs.start]
    return np.divide(s, n, out=np.full(s.shape, np.nan), where=n > 0)


def trailing_sum(x: FloatArray, days: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Sum and count of the observed values of days ``d - days + 1 .. d``, every day."""
    seen = ~np.isnan(x)
    total = np.cumsum(np.where(seen, x, 0.0), axis=1)
    count = np.cumsum(seen, axis=1)
    total[:, days:] -= total[:, :-days].copy()
    count[:, days:] -= count[:, :-days].copy()
    return total, count


def trailing_mean(
    x: FloatArray, days: int = WEEK, min_count: int = MIN_WINDOW_VALUES
) -> FloatArray:
    """Mean of days ``d - days + 1 .. d`` for every day; NaN with < ``min_count`` values."""
    total, count = trailing_sum(x, days)
    return np.divide(total, count, out=np.full(x.shape, np.nan), where=count >= min_count)


# --------------------------------------------------------------------------- rules
def rhr_elevated(x: FloatArray, rules: AnomalyRules) -> tuple[Runs, FloatArray, FloatArray]:
    """Runs of elevated resting heart rate, their mean value and the baseline median."""
    median, mad = rolling_baseline(x, BASELINE_DAYS, lag=1)
    limit = median + rules.rhr_mad_k * np.maximum(mad, rules.rhr_min_mad)
    with np.errstate(invalid="ignore"):
        high = x >= limit
    runs = find_runs(high, rules.rhr_min_days)
    return runs, _run_means(x, runs), median[runs.client, runs.start]


def _weekly_vs_baseline(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    return trailing_mean(x), rolling_baseline(x, BASELINE_DAYS, lag=WEEK)[0]


def steps_collapse(x: FloatArray, rules: AnomalyRules) -> tuple[Runs, FloatArray, FloatArray]:
    week, base = _weekly_vs_baseline(x)
    with np.errstate(invalid="ignore"):
        runs = find_runs(week < rules.steps_ratio * base)
    return _widen(runs), _run_means(x, _widen(runs)), base[runs.client, runs.start]


def sleep_debt(x: FloatArray, rules: AnomalyRules) -> tuple[Runs, FloatArray, FloatArray]:
    week, base = _weekly_vs_baseline(x)
    with np.errstate(invalid="ignore"):
        short = (week < rules.sleep_floor_hours) | (week < base - rules.sleep_drop_hours)
    runs = merge_runs(find_runs(short), rules.sleep_merge_gap_days)
    return _widen(runs), _run_means(x, _widen(runs)), base[runs.client, runs.start]


def merge_runs(runs: Runs, max_gap: int) -> Runs:
    """Runs of one client separated by fewer than ``max_gap`` days, merged (runs as
    :func:`find_runs` orders them). A later run never moves an earlier start, so the
    dedup key of an alert already raised stays the same."""
    if runs.client.size == 0:
        return runs
    gap = runs.start[1:] - runs.end[:-1] - 1
    new = np.concatenate([[True], (runs.client[1:] != runs.client[:-1]) | (gap >= max_gap)])
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, runs.client.size - 1)
    return Runs(runs.client[first], runs.start[first], runs.end[last])


# --------------------------------------------------------------------------- illness
@dataclass(frozen=True, slots=True)
class IllnessSignals:
    """The three daily signals of :func:`possible_illness`, each ``(client, day)``:
    robust z-scores oriented so that positive means "more like an illness"."""

    rhr: FloatArray  # resting heart rate up
    steps: FloatArray  # log steps down
    sleep: FloatArray  # sleep longer
    medians: dict[str, FloatArray]  # each day's baseline median, in the signal's units


def robust_z(x: FloatArray, min_mad: float) -> tuple[FloatArray, FloatArray]:
    """``(x - median) / (1.4826 * max(MAD, min_mad))`` against each day's trailing
    28-day baseline (the days before it), NaN without a baseline; and the median."""
    median, mad = rolling_baseline(x, BASELINE_DAYS, lag=1)
    with np.errstate(invalid="ignore"):
        scale = MAD_TO_SD * np.maximum(mad, min_mad)
        out: FloatArray = (x - median) / scale
    return out, median


def illness_signals(
    rhr: FloatArray, steps: FloatArray, sleep: FloatArray, rules: AnomalyRules
) -> IllnessSignals:
    """Robust z-scores of the three signals (steps on a log scale: a drop to half is
    the same evidence for 4,000 and for 12,000 usual steps)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        log_steps = np.log(np.where(steps > 0, steps, np.nan))
    z_rhr, rhr_median = robust_z(rhr, rules.rhr_min_mad)
    z_steps, log_median = robust_z(log_steps, rules.min_mad_log_steps)
    z_sleep, sleep_median = robust_z(sleep, rules.min_mad_sleep_hours)
    medians = {"rhr": rhr_median, "steps": np.exp(log_median), "sleep": sleep_median}
    return IllnessSignals(z_rhr, -z_steps, z_sleep, medians)


def illness_score(
    signals: IllnessSignals, rules: AnomalyRules
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Per day: the evidence of an illness ending that day, and the window it spans.

    For each window of ``w`` days ending on the day (``rules.illness_windows``), the
    clipped z-scores of every signal observed in it are pooled Stouffer-style,
    ``sum(z) / sqrt(n)``: about N(0, 1) on ordinary days whatever the number of signals
    a client has (Fitbit exports carry no resting heart rate), and growing with every
    concordant abnormal day. The score is the best window's, NaN with fewer than
    ``rules.illness_min_values`` values. Clipping keeps one extreme value (a 17 h night)
    from carrying the score alone, and bounds what a reassuring signal can cancel."""
    low, high = rules.illness_z_clip
    parts = [np.clip(z, low, high) for z in (signals.rhr, signals.steps, signals.sleep)]
    best = np.full(signals.rhr.shape, np.nan)
    span = np.ones(signals.rhr.shape, dtype=np.intp)
    for w in rules.illness_windows:
        total, count = np.zeros(best.shape), np.zeros(best.shape, dtype=np.int64)
        for z in parts:
            t, c = trailing_sum(z, w)
            total += t
            count += c
        score = np.divide(total, np.sqrt(count), out=np.full(best.shape, np.nan), where=count > 0)
        score[count < rules.illness_min_values] = np.nan
        better = score > np.where(np.isnan(best), -np.inf, best)
        best = np.where(better, score, best)
        span = np.where(better, w, span)
    return best, span


def run_max(x: FloatArray, runs: Runs) -> FloatArray:
    """Largest value of ``x`` within each run."""
    out = np.full(runs.client.shape, -np.inf)
    length = runs.end - runs.start + 1
    for k in range(int(length.max(initial=0))):
        alive = k < length
        day = np.minimum(runs.start + k, x.shape[1] - 1)
        out = np.where(alive, np.fmax(out, x[runs.client, day]), out)
    return out


@dataclass(frozen=True, slots=True)
class IllnessRuns:
    """Runs of :func:`possible_illness` with, per run, the peak score and each
    signal's mean over the run and its baseline median (NaN when not observed)."""

    runs: Runs
    peak: FloatArray  # the largest daily score within the run
    means: dict[str, FloatArray]
    baselines: dict[str, FloatArray]
    z_means: dict[str, FloatArray]


def possible_illness(
    rhr: FloatArray, steps: FloatArray, sleep: FloatArray, rules: AnomalyRules
) -> IllnessRuns:
    """Runs of at least ``rules.illness_min_days`` days whose illness score reaches
    ``rules.illness_score``; each run starts where the evidence of its first day does."""
    signals = illness_signals(rhr, steps, sleep, rules)
    score, span = illness_score(signals, rules)
    with np.errstate(invalid="ignore"):
        found = find_runs(score >= rules.illness_score, rules.illness_min_days)
    first_span = span[found.client, found.start]
    runs = Runs(found.client, np.maximum(found.start - first_span + 1, 0), found.end)
    means, baselines, z_means = {}, {}, {}
    for name, x in (("rhr", rhr), ("steps", steps), ("sleep", sleep)):
        means[name] = _run_means(x, runs)
        baselines[name] = signals.medians[name][runs.client, runs.start]
        z_means[name] = _run_means(getattr(signals, name), runs)
    return IllnessRuns(runs, run_max(score, found), means, baselines, z_means)


def _widen(runs: Runs) -> Runs:
    """Start each run where its first 7-day window starts."""
    return Runs(runs.client, np.maximum(runs.start - (WEEK - 1), 0), runs.end)


# --------------------------------------------------------------------------- frames
_TEXT = {
    "rhr_elevated": (
        "Resting heart rate averaged {value} /min on {days} consecutive days, "
        "well above the usual {baseline} /min. This can come with an infection, "
        "poor recovery or stress."
    ),
    "steps_collapse": (
        "Daily steps averaged {value} over these days, less than half the usual {baseline}."
    ),
    "sleep_debt": (
        "Sleep averaged {value} h a night over these days against the usual "
        "{baseline} h: a sleep debt."
    ),
}
_TEXT_NO_BASELINE_BY_KIND = {
    "sleep_debt": "Sleep averaged {value} h a night over these {days} days: a sleep debt.",
}
_SEVERITY = {"rhr_elevated": "warning", "steps_collapse": "warning", "sleep_debt": "info"}
_METRIC = {"rhr_elevated": _RHR, "steps_collapse": _STEPS, "sleep_debt": _SLEEP}


def _fill(template: str, fields: dict[str, pd.Series], n: int) -> pd.Series:
    """``template`` with each ``{name}`` replaced by ``fields[name]``, row by row."""
    head, *pieces = template.split("{")
    text = pd.Series([head] * n, dtype=object)
    for piece in pieces:
        name, rest = piece.split("}", 1)
        text = text + fields[name].astype(object) + rest
    return text


def _frame(
    kind: str, cube: DailyCube, runs: Runs, value: FloatArray, base: FloatArray
) -> pd.DataFrame:
    days = cube.days()
    start, end = days[runs.start], days[runs.end]
    digits = 1 if kind == "sleep_debt" else 0
    value_text = pd.Series(value).round(digits).astype(str).str.removesuffix(".0")
    base_text = pd.Series(base).round(digits).astype(str).str.removesuffix(".0")
    length = (runs.end - runs.start + 1).astype(str)
    fields = {"value": value_text, "baseline": base_text, "days": pd.Series(length)}
    text = _fill(_TEXT[kind], fields, len(runs.client))
    no_base = np.isnan(base)
    if no_base.any():  # the floor rule of sleep_debt needs no baseline
        other = _fill(_TEXT_NO_BASELINE_BY_KIND[kind], fields, len(runs.client))
        text = text.where(~no_base, other)
    return _assemble(
        cube.client_ids[runs.client],
        kind,
        _SEVERITY[kind],
        _METRIC[kind],
        start,
        end,
        value,
        base,
        text,
    )


_SIGNAL_TEXT = {  # name: (label, unit, digits, metric code)
    "rhr": ("resting heart rate", " /min", 0, _RHR),
    "steps": ("steps", " a day", 0, _STEPS),
    "sleep": ("sleep", " h", 1, _SLEEP),
}


def _numbers(x: FloatArray, digits: int) -> pd.Series:
    return pd.Series(np.round(x, digits)).astype(str).str.removesuffix(".0")


def _illness_frame(cube: DailyCube, found: IllnessRuns, rules: AnomalyRules) -> pd.DataFrame:
    """One ``possible_illness`` alert per run: the signal that departed most names the
    metric; every observed signal is listed against its usual level."""
    runs, n = found.runs, found.runs.client.size
    names = list(_SIGNAL_TEXT)
    z = np.stack([np.nan_to_num(found.z_means[k], nan=-np.inf) for k in names])
    top = np.argmax(z, axis=0) if n else np.zeros(0, dtype=np.intp)
    value = np.stack([found.means[k] for k in names])[top, np.arange(n)]
    base = np.stack([found.baselines[k] for k in names])[top, np.arange(n)]
    parts = []
    for name, (label, unit, digits, _) in _SIGNAL_TEXT.items():
        seen = ~np.isnan(found.means[name])
        # pandas' string dtype keeps NaN missing through concatenation: a signal with no
        # baseline yet is listed without its "usual" level rather than losing the text.
        usual = (" (usual " + _numbers(found.baselines[name], digits) + ")").fillna("")
        text = label + " " + _numbers(found.means[name], digits) + unit + usual
        parts.append(text.where(seen, "").fillna(""))
    listed = (
        (parts[0] + "; " + parts[1] + "; " + parts[2])
        .str.replace(r"^(; )+|(; )+$", "", regex=True)
        .str.replace(r"(; ){2,}", "; ", regex=True)
    )
    days = pd.Series((runs.end - runs.start + 1).astype(str))
    text = (
        "Possible illness over " + days + " days (evidence score "
        + _numbers(found.peak, 1) + "): " + listed
        + ". Together these departures from the client's usual levels are typical of "
        "an infection; worth a check-in."
    )  # fmt: skip
    severity = np.where(found.peak >= rules.illness_warning_score, "warning", "info")
    metric = np.array([_SIGNAL_TEXT[k][3] for k in names], dtype=object)[top]
    span = cube.days()
    return _assemble(
        cube.client_ids[runs.client],
        "possible_illness",
        severity.astype(object),
        metric,
        span[runs.start],
        span[runs.end],
        value,
        base,
        text,
    )


def _assemble(
    client_ids: npt.NDArray[np.object_],
    kind: str,
    severity: str | npt.NDArray[np.object_],
    metric: str | npt.NDArray[np.object_],
    start: npt.NDArray[np.datetime64],
    end: npt.NDArray[np.datetime64],
    value: FloatArray,
    base: FloatArray,
    explanation: pd.Series,
) -> pd.DataFrame:
    start_dates = pd.Series(start.astype("datetime64[D]").astype(object), dtype=object)
    frame = pd.DataFrame(
        {
            "client_id": pd.Series(client_ids, dtype=object),
            "kind": kind,
            "severity": severity,
            "metric": metric,
            "window_start": start_dates,
            "window_end": pd.Series(end.astype("datetime64[D]").astype(object), dtype=object),
            "value": value,
            "baseline": base,
            "explanation": explanation.to_numpy(),
        }
    )
    frame["dedup_key"] = frame["client_id"].astype(str) + "|" + kind + "|" + start_dates.astype(str)
    return frame


def _mm_hg(values: pd.Series) -> pd.Series:
    """Whole mm Hg as text; a missing half of a reading (systolic without diastolic, or
    the reverse) shows as "?" instead of making the whole explanation missing."""
    texts = ["?" if pd.isna(v) else str(round(float(v))) for v in values]
    return pd.Series(texts, index=values.index, dtype=object)


def crisis_alerts(sparse: pd.DataFrame) -> pd.DataFrame:
    """One urgent alert per client and day with a reading above the crisis thresholds."""
    bp = sparse.loc[
        sparse["metric"].isin([_SYS, _DIA]), ["client_id", "metric", "value", "observed_at"]
    ]
    if bp.empty:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    wide = bp.pivot_table(
        index=["client_id", "observed_at"],
        columns="metric",
        values="value",
        aggfunc="max",
        observed=True,
    ).reset_index()
    sys_ = wide.get(_SYS, pd.Series(np.nan, index=wide.index)).to_numpy(dtype=float)
    dia = wide.get(_DIA, pd.Series(np.nan, index=wide.index)).to_numpy(dtype=float)
    crisis_sys, crisis_dia = g.BP_SYSTOLIC[-1].threshold, g.BP_DIASTOLIC[-1].threshold
    with np.errstate(invalid="ignore"):
        hit = (sys_ > crisis_sys) | (dia > crisis_dia)
    rows = wide.loc[hit].assign(sys=sys_[hit], dia=dia[hit])
    rows["day"] = pd.to_datetime(rows["observed_at"], utc=True).dt.tz_convert(None).dt.floor("D")
    rows = rows.sort_values("sys", ascending=False).drop_duplicates(["client_id", "day"])
    reading = _mm_hg(rows["sys"]) + "/" + _mm_hg(rows["dia"])
    text = (
        "A blood-pressure reading of " + reading + " mm Hg is in the hypertensive-crisis "
        "range (above 180 and/or 120): contact the client today."
    )
    day = rows["day"].to_numpy().astype("datetime64[D]")
    return _assemble(
        rows["client_id"].astype(object).to_numpy(),
        "hypertensive_crisis",
        "urgent",
        _SYS,
        day,
        day,
        rows["sys"].to_numpy(),
        np.full(len(rows), np.nan),
        text.astype(object),
    )


def _daily(cube: DailyCube, values: FloatArray, code: str) -> FloatArray:
    if code in cube.codes:
        out: FloatArray = values[cube.codes.index(code)]
        return out
    return np.full(values.shape[1:], np.nan)


def detect_from_cube(
    cube: DailyCube,
    sparse: pd.DataFrame,
    rules: AnomalyRules,
    report_from: np.datetime64 | None = None,
) -> pd.DataFrame:
    """Alerts from a cube of daily values (range-checked here) and sparse BP rows.

    With ``report_from``, only alerts whose window ends on or after that day are kept:
    the days before it serve as the baselines' lookback."""
    values = cube.values.astype(np.float64)
    values[out_of_range_mask(values, cube.codes)] = np.nan
    wear_off = non_wear_mask(DailyCube(cube.client_ids, cube.start, cube.codes, values))
    rhr, sleep = _daily(cube, values, _RHR), _daily(cube, values, _SLEEP)
    steps = np.where(wear_off, np.nan, _daily(cube, values, _STEPS))
    frames = [crisis_alerts(sparse)]
    for kind, rule, x in (
        ("rhr_elevated", rhr_elevated, rhr),
        ("steps_collapse", steps_collapse, steps),
        ("sleep_debt", sleep_debt, sleep),
    ):
        runs, value, base = rule(x, rules)
        frames.append(_frame(kind, cube, runs, value, base))
    frames.append(_illness_frame(cube, possible_illness(rhr, steps, sleep, rules), rules))
    alerts = pd.concat([f for f in frames if not f.empty] or [frames[0]], ignore_index=True)
    if report_from is not None and not alerts.empty:
        ends = pd.to_datetime(alerts["window_end"].astype(str)).to_numpy()
        alerts = alerts.loc[ends >= report_from.astype("datetime64[ns]")]
    alerts = alerts.drop_duplicates("dedup_key").sort_values(["client_id", "window_start", "kind"])
    return alerts.reset_index(drop=True)[list(ALERT_COLUMNS)]


def detect_anomalies(
    measurements: pd.DataFrame,
    as_of: dt.date | dt.datetime,
    rules: AnomalyRules | None = None,
    history_days: int = HISTORY_DAYS,
) -> pd.DataFrame:
    """Alerts for every client whose window ends within the ``history_days`` ending at
    ``as_of`` (point in time: only data observed up to the cutoff of
    :func:`snapshot.cutoff_for`). The baselines of those days look a further
    ``LOOKBACK_DAYS`` back, so every reported day is judged against a full baseline and
    weekly reruns raise the same alert (the same dedup key) for the same episode."""
    cutoff, day = cutoff_for(as_of)
    observed = pd.to_datetime(measurements["observed_at"], utc=True)
    frame = measurements.loc[(observed <= cutoff).to_numpy()]
    ids = client_universe(frame, frame.iloc[:0][["client_id"]])
    days = history_days + LOOKBACK_DAYS
    cube = cube_from_long(frame, ids, day, days, (_RHR, _STEPS, _SLEEP))
    since = cutoff - pd.Timedelta(days=history_days)
    sparse = frame.loc[pd.to_datetime(frame["observed_at"], utc=True) > since]
    report_from = day - np.timedelta64(history_days - 1, "D")
    return detect_from_cube(cube, sparse, rules or AnomalyRules(), report_from)
