"""Recommenders: estimator-style models that predict how well a client will adhere to (and
rate) each intervention, their baselines, the NumPy scorer used for serving, and evaluation.

Importing this package does not import TensorFlow; only ``HybridMF.fit``/``load`` do.
"""

from __future__ import annotations

from health_advisor.recommender.base import NotFittedError, Recommender
from health_advisor.recommender.baselines import BiasBaseline, PopularityBaseline, RulesBaseline
from health_advisor.recommender.keras_hybrid import HybridMF
from health_advisor.recommender.scorer import NumpyScorer

__all__ = [
    "BiasBaseline",
    "HybridMF",
    "NotFittedError",
    "NumpyScorer",
    "PopularityBaseline",
    "Recommender",
    "RulesBaseline",
]
