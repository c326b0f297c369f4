"""The champion's per-request path: one client's features read without frames must score
exactly like the frame path the model was trained through."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from health_advisor.core.catalog import Catalog
from health_advisor.core.vocabulary import CONDITIONS, DOMAINS, GOALS, SETTINGS
from health_advisor.plans import service
from health_advisor.plans.scoring import ChampionScorer, model_features
from health_advisor.recommender._data import FeatureEncoder
from health_advisor.recommender.datasets import (
    SNAPSHOT_CATEGORIES,
    SNAPSHOT_NUMBERS,
    client_feature_row,
    client_features,
)
from health_advisor.recommender.scorer import encode_row
from health_advisor.recommender.training import clinic_from_store
from health_advisor.store.models import Client
from health_advisor.store.session import session_scope

LEVELS = ["low", "normal", "high", "unknown", "elevated"]
numbers = st.one_of(
    st.none(),
    st.floats(0, 1e5),
    st.just(float("nan")),
    st.integers(0, 100_000),
    st.sampled_from(["12", " 7.5 ", "abc", "", "1e3"]),
    st.booleans(),
)
flags = st.one_of(st.none(), st.booleans(), st.sampled_from(["true", "False", "yes", ""]))
lists = st.one_of(
    st.none(),
    st.lists(st.sampled_from([*GOALS, *DOMAINS, *SETTINGS, *CONDITIONS, "other"]), max_size=5),
    st.sampled_from(["", "weight_loss; sleep", "hypertension;diabetes"]),
)
surveys = st.fixed_dictionaries(
    {},
    optional={
        "goals": lists,
        "preferred_domains": lists,
        "preferred_settings": lists,
        "conditions": lists,
        "weekly_time_budget_min": numbers,
        "stress_level": numbers,
        "smoker": flags,
        "medical_clearance": flags,
    },
)
snapshots = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {},
        optional={
            **{c: numbers for c in SNAPSHOT_NUMBERS},
            **{c: st.one_of(st.none(), st.sampled_from(LEVELS)) for c in SNAPSHOT_CATEGORIES},
        },
    ),
)


def _frame_path(
    encoder: FeatureEncoder, survey: dict[str, Any], snapshot: dict[str, Any]
) -> np.ndarray:
    """What the frames give: client_features of one client, aligned, transformed."""
    frame = model_features("c1", survey, snapshot)
    assert frame is not None
    aligned = frame.reindex(columns=[*encoder.numeric, *encoder.categorical])
    return encoder.transform(aligned, "client_features")[0]


@pytest.fixture(scope="module")
def encoder() -> FeatureEncoder:
    """Fitted on a small population with every column present and several categories."""
    rng = np.random.default_rng(3)
    people = [f"c{n}" for n in range(12)]
    surveys = pd.DataFrame(
        {
            "client_id": people,
            "goals": [[GOALS[n % len(GOALS)]] for n in range(12)],
            "conditions": [[CONDITIONS[n % len(CONDITIONS)]] for n in range(12)],
            "weekly_time_budget_min": rng.uniform(60, 400, 12),
            "stress_level": rng.integers(1, 10, 12).astype(float),
            "smoker": [bool(n % 3) for n in range(12)],
            "medical_clearance": [bool(n % 2) for n in range(12)],
        }
    )
    snaps = pd.DataFrame(
        {
            "client_id": people,
            **{c: rng.uniform(1, 100, 12) for c in SNAPSHOT_NUMBERS},
            **{
                c: [LEVELS[(n + k) % 4] for n in range(12)]
                for k, c in enumerate(SNAPSHOT_CATEGORIES)
            },
        }
    )
    return FeatureEncoder.fit(client_features(surveys, snaps), "client_features")


@settings(max_examples=300, deadline=None)
@given(survey=surveys, snapshot=snapshots)
def test_row_encoding_equals_the_frame_path(
    encoder: FeatureEncoder, survey: dict[str, Any], snapshot: dict[str, Any]
) -> None:
    if not survey and not snapshot:
        return  # no features at all: the model's fit-time row (or none) is used
    row = client_feature_row(survey, snapshot or None)
    np.testing.assert_allclose(
        encode_row(encoder, row), _frame_path(encoder, survey, snapshot), atol=1e-6
    )


def test_a_non_number_in_a_numeric_feature_is_an_input_error(encoder: FeatureEncoder) -> None:
    from health_advisor.errors import InputError

    with pytest.raises(InputError, match="numeric feature"):
        encode_row(encoder, {"stress_level": "high"})


def test_champion_scores_equal_the_frame_path_for_every_client(
    stored: Engine, catalog: Catalog
) -> None:
    from health_advisor.recommender import HybridMF
    from health_advisor.recommender.datasets import build_datasets

    data = build_datasets(clinic_from_store(stored), catalog)
    model = HybridMF(embedding_dim=4, hidden_units=4, epochs=3, patience=3, random_state=0)
    model.fit(data.values, data.client_features, data.item_features)
    scorer = model.to_scorer()
    champion = ChampionScorer(scorer)
    checked = 0
    with session_scope(stored) as session:
        for client in session.scalars(select(Client).order_by(Client.external_id)):
            _, survey, features = service._context(session, client, None)
            frame = model_features(client.external_id, survey, features)
            assert frame is not None
            aligned = frame.reindex(
                columns=[*scorer.client_encoder.numeric, *scorer.client_encoder.categorical]
            )
            expected = scorer.score_rows(scorer.rows([client.external_id], aligned))[0]
            got = champion.client_scores(client.external_id, survey, features)
            np.testing.assert_allclose(list(got.values()), expected, rtol=1e-6, atol=1e-6)
            checked += 1
    assert checked >= 30
    unknown = champion.client_scores("nobody", {}, {})
    np.testing.assert_allclose(list(unknown.values()), scorer.score_all(["nobody"])[0])


def test_the_champion_cache_calls_on_load_once_per_new_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from health_advisor.config import Settings
    from health_advisor.plans import scoring

    versions = iter([None, 3, 3, 4])
    monkeypatch.setattr(
        scoring,
        "load_champion",
        lambda settings: ((object(), v), None) if (v := next(versions)) else (None, "no_model"),
    )
    loads: list[int] = []
    cache = scoring.ChampionCache(Settings(), ttl=0.0, on_load=lambda: loads.append(1))
    assert cache.get() == (None, "no_model") and loads == []
    for _ in range(3):
        cache.get()
    assert len(loads) == 2  # version 3, then version 4
