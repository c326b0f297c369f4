"""NumpyScorer: loads a saved HybridMF without TensorFlow and ranks like the model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from health_advisor.errors import InputError, NotFoundError
from health_advisor.recommender import NumpyScorer

Fitted = Callable[..., Any]


def test_loaded_scorer_equals_the_exported_one(fitted: Fitted, tmp_path: Path) -> None:
    model = fitted("hybrid")
    model.save(tmp_path / "m")
    loaded = NumpyScorer.load(tmp_path / "m")
    clients = ["c000", "c005", "unknown"]
    np.testing.assert_array_equal(loaded.score_all(clients), model.to_scorer().score_all(clients))
    assert loaded.item_ids == model.items_.ids


def test_loading_needs_no_tensorflow(fitted: Fitted, tmp_path: Path) -> None:
    fitted("hybrid").save(tmp_path / "m")
    code = (
        "import sys; from health_advisor.recommender import NumpyScorer; "
        f"s = NumpyScorer.load({str(tmp_path / 'm')!r}); s.top_k('c000', 3); "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_chunked_scoring_and_top_k_agree(fitted: Fitted) -> None:
    scorer = fitted("hybrid").to_scorer()
    clients = [f"c{n:03d}" for n in range(40)]
    full = scorer.score_all(clients)
    np.testing.assert_allclose(scorer.score_all(clients, chunk_size=7), full, atol=1e-6)
    top = scorer.top_k("c003", k=3, exclude=[scorer.item_ids[0]])
    row = full[3].copy()
    row[0] = -np.inf
    expected = [scorer.item_ids[i] for i in np.argsort(-row, kind="stable")[:3]]
    assert [i for i, _ in top] == expected


def test_scorer_refuses_other_models_and_missing_folders(fitted: Fitted, tmp_path: Path) -> None:
    fitted("bias").save(tmp_path / "bias")
    with pytest.raises(InputError, match="needs a HybridMF"):
        NumpyScorer.load(tmp_path / "bias")
    with pytest.raises(NotFoundError):
        NumpyScorer.load(tmp_path / "nothing")
    with pytest.raises(InputError, match="k must be a positive integer"):
        fitted("hybrid").to_scorer().top_k("c000", k=0)
