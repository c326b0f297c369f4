"""The synthetic clinic: the embedded default data and the evaluation ground truth.

See :mod:`health_advisor.synth.generator` for the generative model.
"""

from health_advisor.synth.generator import SynthSummary, generate_clinic

__all__ = ["SynthSummary", "generate_clinic"]
