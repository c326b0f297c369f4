"""The HTTP API (FastAPI, versioned under ``/api/v1``): :func:`app.create_app`, :func:`app.serve`.

Routes stay thin: they parse, call :mod:`health_advisor.security` for who may do what,
call the services, write the audit entry and shape the answer. Errors are RFC 9457
problem+json (:mod:`.errors`). Heavy libraries (pandas, MLflow, the ingest adapters)
are imported inside the routes that need them, so the server starts in about a second.
"""
