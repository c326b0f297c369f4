"""The server-drawn SVG charts and the trend data behind them (pure: no database)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import xml.etree.ElementTree as ET

import pytest

from health_advisor.core import guidelines as g
from health_advisor.web.charts import (
    Band,
    Point,
    Reference,
    bar_chart,
    healthy_edge,
    line_chart,
    nice_ticks,
)
from health_advisor.web.trends import band_ranges, daily_means, key_metrics, weekly_totals

SVG = "{http://www.w3.org/2000/svg}"
DAY = dt.date(2026, 11, 2)  # a Monday


def _points(values: list[float]) -> list[Point]:
    return [Point(DAY + dt.timedelta(days=k), v) for k, v in enumerate(values)]


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 100, [0, 25, 50, 75, 100]),
        (118.3, 151.9, [120, 130, 140, 150]),
        (0.2, 0.9, [0.2, 0.4, 0.6, 0.8]),
    ],
)
def test_ticks_are_round_and_cover_the_range(
    low: float, high: float, expected: list[float]
) -> None:
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_degenerate_tick_ranges() -> None:
    assert nice_ticks(5, 5) == [5]
    assert nice_ticks(math.nan, 1) == []


def test_a_line_chart_is_accessible_svg_over_clipped_bands() -> None:
    bands = [
        Band(-math.inf, 120, "normal", "ok"),
        Band(120, 140, "elevated", "watch"),
        Band(140, math.inf, "high", "risk"),
    ]
    svg = line_chart(
        _points([150, 146, 143, 139]),
        chart_id="c1",
        title="Systolic",
        desc="Four readings, falling",
        bands=bands,
        references=[Reference(130, "Target")],
    )
    root = _parse(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Systolic"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "Four readings, falling"  # type: ignore[union-attr]
    classes = [e.get("class") for e in root.iter()]
    assert "band band-risk" in classes and "band band-watch" in classes
    assert "band band-ok" not in classes  # 120 is outside the drawn range (no include)
    assert classes.count("dot") == 4 and "series" in classes and "ref ref-target" in classes
    heights = [
        float(e.get("height", 0)) for e in root.iter() if e.get("class", "").startswith("band ")
    ]
    assert all(h > 0 for h in heights)


def test_text_in_a_chart_is_escaped() -> None:
    svg = line_chart(
        _points([1, 2]), chart_id='x" onload="alert(1)', title="<script>", desc="a & b"
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a &amp; b" in svg
    assert 'onload="' not in svg
    _parse(svg)


def test_the_healthy_edge_pulls_the_nearest_ok_band_into_view() -> None:
    bands = [Band(-math.inf, 120, "normal", "ok"), Band(120, math.inf, "high", "risk")]
    edge, strip = healthy_edge([146, 150], bands)
    assert edge == 120 and strip < 120
    assert healthy_edge([110, 125], bands) == []  # the data already reach it
    assert healthy_edge([], bands) == []
    svg = line_chart(
        _points([146, 150]), chart_id="c", title="t", desc="d", bands=bands, include=[edge, strip]
    )
    assert 'class="band band-ok"' in svg


def test_a_single_point_and_no_points_still_draw() -> None:
    one = _parse(line_chart(_points([7.5]), chart_id="a", title="t", desc="d"))
    assert [e.get("class") for e in one.iter()].count("dot") == 1
    _parse(line_chart([], chart_id="b", title="t", desc="d"))


def test_long_series_mark_only_the_last_point() -> None:
    svg = line_chart(_points([float(k % 7) for k in range(90)]), chart_id="l", title="t", desc="d")
    assert svg.count('class="dot"') == 1
    assert len(re.findall(r'class="tick"', svg)) >= 3 + 3  # y ticks and three dates


def test_bars_meeting_the_threshold_are_drawn_apart() -> None:
    svg = bar_chart(
        [("2 nov", 80.0), ("9 nov", 40.0)],
        chart_id="b",
        title="Weekly",
        desc="Two weeks",
        references=[Reference(70, "Goal", "threshold")],
    )
    root = _parse(svg)
    classes = [e.get("class") for e in root.iter()]
    assert classes.count("bar bar-ok") == 1 and classes.count("bar bar-watch") == 1
    assert "ref ref-threshold" in classes


def test_band_ranges_follow_the_guideline_tables() -> None:
    ranges = band_ranges(g.BP_SYSTOLIC)
    assert ranges[0] == ("normal", -math.inf, 120)
    assert ranges[-1] == ("crisis", 180, math.inf)
    assert all(a[2] == b[1] for a, b in itertools.pairwise(ranges))


def test_sleep_bands_depend_on_age() -> None:
    young = next(s for s in key_metrics(40) if s.metric == "sleep_duration")
    older = next(s for s in key_metrics(70) if s.metric == "sleep_duration")
    assert young.bands[1] == ("recommended", 7.0, 9.0)
    assert older.bands[1] == ("recommended", 7.0, 8.0)
    assert all(c in s.tones for s in key_metrics() for c, _, _ in s.bands)


def test_daily_means_use_the_clinic_calendar() -> None:
    late = dt.datetime(2026, 11, 3, 3, 0, tzinfo=dt.UTC)  # still 2 November in Lima
    rows = [(late, 10.0), (dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC), 20.0)]
    assert daily_means(rows) == [Point(DAY, 15.0)]


def test_weekly_totals_scale_partial_weeks_and_drop_thin_ones() -> None:
    days = [*_points([10.0] * 5), Point(DAY + dt.timedelta(days=7), 30.0)]
    assert weekly_totals(days) == [Point(DAY, 70.0)]  # 5 days seen: mean x 7
    assert weekly_totals(days, min_days=1)[-1] == Point(DAY + dt.timedelta(days=7), 210.0)
