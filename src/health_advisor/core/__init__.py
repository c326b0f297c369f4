"""Pure domain: metrics and units, guideline thresholds, catalog schema. No I/O."""
