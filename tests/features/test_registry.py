"""The registry describes every snapshot column, and nothing else."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from health_advisor.features import registry, snapshot


def test_registry_covers_every_snapshot_column_in_order(clinic) -> None:  # type: ignore[no-untyped-def]
    measurements, clients = clinic
    frame = snapshot.build_snapshots(measurements, clients, dt.date(2024, 2, 10))
    names = [s.name for s in registry.feature_specs()]
    assert names == list(frame.columns)
    assert len(set(names)) == len(names)


def test_registry_dtypes_and_fields(clinic) -> None:  # type: ignore[no-untyped-def]
    measurements, clients = clinic
    frame = snapshot.build_snapshots(measurements, clients, dt.date(2024, 2, 10))
    for spec in registry.feature_specs():
        if spec.dtype == "float":
            assert pd.api.types.is_float_dtype(frame[spec.name]), spec.name
        assert spec.description and spec.transformation and spec.version
    described = registry.describe()
    assert set(described[0]) == {
        "name",
        "dtype",
        "unit",
        "description",
        "source_metrics",
        "transformation",
        "version",
    }
    assert isinstance(described[0]["source_metrics"], list)
