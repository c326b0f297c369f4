"""The pipeline: ingest → validate → features → train → evaluate → register → recommend →
monitor, as plain recorded steps (:mod:`.steps`), run in process (:mod:`.runner`) or by
Airflow (``dags/``), with drift and data-quality monitoring (:mod:`.drift`,
:mod:`.quality`, :mod:`.monitor`). Importing the package imports nothing heavy.
"""
