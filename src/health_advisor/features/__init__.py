"""Features: cleaning, aggregation, engineered features, guideline risk, baselines, anomaly
alerts and the feature registry, computed from stored measurements (never from synthetic
ground truth). Entry points: :func:`snapshot.build_snapshots`, :func:`snapshot.risk_for`,
:func:`anomalies.detect_anomalies`, :func:`registry.describe`."""
