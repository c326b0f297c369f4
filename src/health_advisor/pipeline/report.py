"""The drift report: one self-contained HTML page per monitor run (Jinja2, no assets).

Written under ``<home>/reports/drift/``; the store's ``drift_reports.report_path`` points
at it. The template lives here as a string rather than a package data file, so the page
renders from any installation of the package (wheel, editable, the Airflow environment).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from health_advisor.pipeline.drift import PSI_MODERATE, DriftResult, FeatureDrift

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Feature drift {{ facts.current_as_of }} vs {{ facts.reference_as_of }}</title>
<style>
 body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d2433; }
 h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
 table { border-collapse: collapse; margin: .5rem 0; }
 th, td { padding: .25rem .6rem; border-bottom: 1px solid #dde2ea; text-align: right; }
 th:first-child, td:first-child { text-align: left; }
 .verdict { padding: .6rem 1rem; border-radius: 6px; display: inline-block; }
 .drift { background: #fde2e1; } .ok { background: #e1f5e6; }
 .major { color: #b3261e; font-weight: 600; } .moderate { color: #9a6700; }
 .bars { display: flex; gap: 1.5rem; flex-wrap: wrap; }
 figure { margin: 0; } figcaption { font-size: .85rem; }
 .legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem; }
</style>
</head>
<body>
<h1>Feature drift: snapshot {{ facts.current_as_of }} against the training snapshot
 {{ facts.reference_as_of }}</h1>
<p class="verdict {{ 'drift' if result.drifted else 'ok' }}">
{% if result.drifted %}
 Drift: {{ drifted|length }} of {{ result.checked }} features shifted (PSI &ge;
 {{ result.psi_threshold }} and test p &lt; {{ '%.2g'|format(result.per_test_alpha) }}).
 An alert was raised and the model is marked for retraining.
{% else %}
 No drift: none of {{ result.checked }} features passed both PSI &ge;
 {{ result.psi_threshold }} and p &lt; {{ '%.2g'|format(result.per_test_alpha) }}.
{% endif %}
</p>
<table>
 <tr><th>feature version</th><td>{{ facts.feature_version }}</td></tr>
 <tr><th>champion model version</th><td>{{ facts.model_version or "none" }}</td></tr>
 <tr><th>clients (training / current)</th>
  <td>{{ facts.reference_clients }} / {{ facts.current_clients }}</td></tr>
 <tr><th>largest PSI</th><td>{{ '%.3f'|format(result.max_psi) }}</td></tr>
 <tr><th>family-wise alpha (Bonferroni)</th><td>{{ result.alpha }}</td></tr>
 <tr><th>generated</th><td>{{ facts.generated }}</td></tr>
</table>
{% if drifted %}
<h2>Shifted features</h2>
<p class="legend"><span style="background:#7f8ea3"></span>training
<span style="background:#d0453b"></span>current</p>
<div class="bars">
{% for f in drifted %}
<figure>
 <svg width="{{ 24 * f.bins|length + 10 }}" height="90" role="img"
  aria-label="{{ f.name }} bin shares">
 {% for i in range(f.bins|length) %}
  <rect x="{{ 5 + 24 * i }}" y="{{ 80 - 78 * f.reference_shares[i] }}" width="10"
   height="{{ 78 * f.reference_shares[i] }}" fill="#7f8ea3"><title>{{ f.bins[i] }}:
   {{ '%.1f'|format(100 * f.reference_shares[i]) }} %</title></rect>
  <rect x="{{ 16 + 24 * i }}" y="{{ 80 - 78 * f.current_shares[i] }}" width="10"
   height="{{ 78 * f.current_shares[i] }}" fill="#d0453b"><title>{{ f.bins[i] }}:
   {{ '%.1f'|format(100 * f.current_shares[i]) }} %</title></rect>
 {% endfor %}
 </svg>
 <figcaption>{{ f.name }} (PSI {{ '%.2f'|format(f.psi) }})</figcaption>
</figure>
{% endfor %}
</div>
{% endif %}
<h2>Every feature checked, largest PSI first</h2>
<table>
 <tr><th>feature</th><th>kind</th><th>PSI</th><th>test</th><th>p-value</th>
  <th>training mean</th><th>current mean</th><th>n (training / current)</th><th>drift</th></tr>
{% for f in features %}
 <tr><td class="{{ f.level }}">{{ f.name }}</td><td>{{ f.kind }}</td>
  <td class="{{ f.level }}">{{ '%.3f'|format(f.psi) }}</td>
  <td>{{ ('D ' if f.kind == 'numeric' else 'χ² ') ~ ('%.3f'|format(f.statistic)) }}</td>
  <td>{{ '%.2g'|format(f.p_value) }}</td>
  <td>{{ '' if f.reference_mean is none else '%.4g'|format(f.reference_mean) }}</td>
  <td>{{ '' if f.current_mean is none else '%.4g'|format(f.current_mean) }}</td>
  <td>{{ f.n_reference }} / {{ f.n_current }}</td><td>{{ 'yes' if f.drifted else '' }}</td></tr>
{% endfor %}
</table>
{% if result.skipped %}
<p>Not checked (fewer than the minimum values on one side): {{ result.skipped|join(', ') }}.</p>
{% endif %}
{% if quality %}
<h2>Data quality of recent ingestions</h2>
<table>
 <tr><th>file</th><th>kind</th><th>records</th><th>stored</th><th>duplicates</th>
  <th>quarantined</th><th>quarantine share</th><th>flagged</th></tr>
{% for q in quality %}
 <tr><td>{{ q.file_name }}</td><td>{{ q.kind }}</td><td>{{ q.records_read }}</td>
  <td>{{ q.measurements_stored }}</td><td>{{ q.duplicates }}</td><td>{{ q.quarantined }}</td>
  <td>{{ '%.1f'|format(100 * q.quarantine_share) }} %</td>
  <td>{{ 'yes' if q.flagged else '' }}</td></tr>
{% endfor %}
</table>
{% endif %}
<p>PSI below {{ moderate }} reads as stable, {{ moderate }}-{{ result.psi_threshold }} as a
moderate shift, above as a major one. Features that move with the calendar (days since
the last lab) are not compared.</p>
</body>
</html>
"""


def render(
    result: DriftResult, facts: Mapping[str, Any], quality: Sequence[Mapping[str, Any]] = ()
) -> str:
    """The report's HTML: verdict, shifted features' bin shares, every feature's figures."""
    from jinja2 import Environment

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    features: list[FeatureDrift] = sorted(result.features, key=lambda f: -f.psi)
    return env.from_string(TEMPLATE).render(
        result=result,
        facts={**facts, "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
        features=features,
        drifted=result.drifted_features,
        quality=list(quality),
        moderate=PSI_MODERATE,
    )


def write(html: str, folder: Path, name: str) -> Path:
    """Write the page atomically (a reader never sees half a report)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
