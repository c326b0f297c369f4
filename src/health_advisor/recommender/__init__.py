"""Recommenders: estimator-style models that predict how well a client will adhere to (and
rate) each intervention, their baselines, the NumPy scorer used for serving, and evaluation.

Importing this package imports neither TensorFlow nor pyspark; only fitting (or loading a
Keras model) does.
"""

from __future__ import annotations

from health_advisor.recommender.base import NotFittedError, Recommender
from health_advisor.recommender.baselines import BiasBaseline, PopularityBaseline, RulesBaseline
from health_advisor.recommender.keras_hybrid import HybridMF
from health_advisor.recommender.scorer import NumpyScorer
from health_advisor.recommender.spark_als import SparkALS

__all__ = [
    "BiasBaseline",
    "HybridMF",
    "NotFittedError",
    "NumpyScorer",
    "PopularityBaseline",
    "Recommender",
    "RulesBaseline",
    "SparkALS",
]
