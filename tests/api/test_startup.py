"""The server starts light: no TensorFlow, MLflow, Spark or pandas at start, and none of
TensorFlow in the request path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("tensorflow", "keras", "mlflow", "pyspark", "pandas", "pandera", "optuna")
SCRIPT = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
start = time.perf_counter()
from health_advisor.api.app import create_app
app = create_app()
created = time.perf_counter() - start
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
from fastapi.testclient import TestClient
with TestClient(app) as client:
    assert client.get("/readyz").status_code == 200
    client.get("/api/v1/clients")
    client.get("/api/v1/models")
print(json.dumps({{"seconds": created, "heavy_at_start": heavy,
                  "tensorflow_after_requests": "tensorflow" in sys.modules}}))
"""


def test_app_starts_without_heavy_libraries(tmp_path: Path) -> None:
    env = {**os.environ, "HEALTH_ADVISOR_HOME": str(tmp_path / "var"), "HEALTH_ADVISOR_ENV": "test"}
    env.pop("HEALTH_ADVISOR_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["heavy_at_start"] == []
    assert facts["tensorflow_after_requests"] is False
