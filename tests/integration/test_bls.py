"""`tritune profile --model-repository` on a BLS model (a Python model that calls others by name):
the load goes to the BLS model, the search varies the models it calls jointly (each variant
reloads them under their own names), the confirm step measures its finalists one at a time, and
the exported configs load together on a fresh server and serve the pipeline."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from profile_flags import profile_pipeline
from tritune.domain.metrics import step_metric
from tritune.store import Store
from tritune.testing.ensemble_repository import PREP_SCALE, WIDTH, write_bls_repository
from tritune.testing.processes import wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import from_pbtxt
from tritune.triton.server import EmbeddedTriton

# The full tier only: the fast tier's ensemble goes through the same group deployer.
pytestmark = [pytest.mark.triton, pytest.mark.slow]

STEPS = ("prep", "scaled")
# Only the manual lists vary: 1 or 2 instances of the BLS model itself and of each model it calls
# (8 configurations).
CONFIG = """
profile_models:
  bls:
    model_config_parameters:
      instance_group: [{count: [1, 2], kind: KIND_CPU}]
bls_composing_models: prep, scaled
run_config_search_disable: true
"""


def test_a_bls_model_is_profiled_jointly_and_its_configs_serve_together(tmp_path: Path) -> None:
    repository = write_bls_repository(tmp_path / "models")
    (tmp_path / "config.yaml").write_text(CONFIG)
    out, export = tmp_path / "out", tmp_path / "exported"
    result = profile_pipeline(tmp_path / "config.yaml", repository, out, export)
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout)
    assert summary["model"] == "bls" and summary["best"] and summary["configurations"] == 8

    # The joint configurations were measured, each with its own configs of the called models.
    run_dir = out / "tritune_runs" / "bls"
    with Store.in_run_dir(run_dir) as store:
        (run,) = store.runs()
        variants = store.variants(run.id)
        records = {v.name: store.measurements(v.id, repeats=True) for v in variants}
    counts = {(v.serving.instance_count, *(v.serving.step(s).instance_count for s in STEPS)) for v in variants}
    assert counts == set(itertools.product((1, 2), repeat=3))
    # The load went to the BLS model; the called models' statistics give each step's time.
    measured = [r.measurement.metrics for rs in records.values() for r in rs if r.repeat == 0]
    assert len(measured) >= 8
    assert all(m.get(step_metric(s, "request"), 0) > 0 for m in measured for s in STEPS), measured
    # The confirm step measured at least two finalists (one at a time: a BLS variant serves alone).
    assert sum(any(r.repeat == 1 for r in rs) for rs in records.values()) >= 2, result.stderr[-3000:]

    # The best is the BLS model and one config per called model, under the user's names.
    best_name = summary["best"]
    best = next(v for v in variants if v.name == best_name)
    for entry in ("bls", *STEPS):
        assert (run_dir / "best" / entry / "config.pbtxt").read_text() == (export / entry / "config.pbtxt").read_text()
    for step in STEPS:
        config = from_pbtxt((export / step / "config.pbtxt").read_text())
        assert config.name == step and config.instance_group[0].count == best.serving.step(step).instance_count
    own = from_pbtxt((export / "bls" / "config.pbtxt").read_text())
    assert own.name == "bls" and own.instance_group[0].count == best.serving.instance_count
    diff = (run_dir / "best" / "config.diff").read_text()
    assert "best/prep/config.pbtxt" in diff and "best/scaled/config.pbtxt" in diff

    # The exported set loads on a fresh server and a request through the BLS model is right.
    x = np.linspace(-1, 1, 2 * WIDTH, dtype=np.float32).reshape(2, WIDTH)
    mlp = ort.InferenceSession(str(repository / "scaled" / "1" / "mlp.onnx"))
    (expected,) = mlp.run(["y"], {"x": (x * PREP_SCALE).astype(np.float32)})
    with EmbeddedTriton(export) as server, ModelControl(server) as control:
        for name in (*STEPS, "bls"):
            control.load(name)
        with InferClient(server.endpoints, "grpc") as client:
            y = client.infer("bls", {"raw": x})["y"]
    np.testing.assert_allclose(y, 2.0 * expected, rtol=1e-5)
    assert wait_until_gone(str(export)) == []
    assert wait_until_gone(str(out)) == []
