"""Health Advisor: personalised, clinician-approved health plans from client health data."""

__version__ = "0.1.0"
