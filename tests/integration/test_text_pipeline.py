"""The demo's pipeline (testing/text_pipeline.py): text -> a Python-backend tokenizer -> the real
MiniLM on tritune's runner, as an ensemble of a user's repository. Profiled with a tiny bound,
its load text made by the load generator (a BYTES input); the exported configs load together on a
fresh server and answer a text request with MiniLM's own output for the tokenizer's ids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from profile_flags import profile_pipeline
from tritune.domain.metrics import step_metric
from tritune.store import Store
from tritune.testing.processes import wait_until_gone
from tritune.testing.text_pipeline import ENSEMBLE, HIDDEN, MINILM, OUTPUT, STEPS, TEXT_INPUT, write_text_pipeline
from tritune.testing.tokenizer import SEQUENCE_LENGTH, tokenize
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import from_pbtxt
from tritune.triton.server import EmbeddedTriton

# The full tier (and `make demo`) only: the fast tier's ensemble goes through the same group deployer.
pytestmark = [pytest.mark.triton, pytest.mark.slow]

# 1 or 2 instances of each step, jointly: 4 configurations.
CONFIG = f"""
profile_models:
  {ENSEMBLE}:
    model_config_parameters:
      instance_group: [{{count: [1, 2], kind: KIND_CPU}}]
run_config_search_disable: true
"""


def test_the_text_pipeline_is_profiled_on_text_and_its_configs_serve_text(tmp_path: Path) -> None:
    repository = write_text_pipeline(tmp_path / "models")
    (tmp_path / "config.yaml").write_text(CONFIG)
    out, export = tmp_path / "out", tmp_path / "exported"
    result = profile_pipeline(tmp_path / "config.yaml", repository, out, export)
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout)
    assert summary["model"] == ENSEMBLE and summary["best"] and summary["configurations"] == 4

    # The load generator sent text: every configuration answered, and both steps did work.
    run_dir = out / "tritune_runs" / ENSEMBLE
    with Store.in_run_dir(run_dir) as store:
        (run,) = store.runs()
        measured = [
            m.measurement for v in store.variants(run.id) for m in store.measurements(v.id) if m.measurement.metrics
        ]
    assert len(measured) >= 4 and all(m.metric("perf_throughput") for m in measured), measured
    assert all(m.metrics.get(step_metric(s, "request"), 0) > 0 for m in measured for s in STEPS), measured

    # The exported set (the ensemble and both steps, named as in the repository) serves text.
    for entry in (ENSEMBLE, *STEPS):
        assert from_pbtxt((export / entry / "config.pbtxt").read_text()).name == entry
    texts = np.array([[b"tritune profiles pipelines"], ["h\u00e9llo world".encode()]], dtype=np.object_)
    with EmbeddedTriton(export) as server, ModelControl(server) as control:
        control.load(ENSEMBLE)
        assert all(control.is_ready(name) for name in STEPS)
        with InferClient(server.endpoints, "grpc") as client:
            hidden = client.infer(ENSEMBLE, {TEXT_INPUT: texts})[OUTPUT]
    assert hidden.shape == (2, SEQUENCE_LENGTH, HIDDEN)
    minilm = ort.InferenceSession(str(repository / MINILM / "1" / "model.onnx"))
    (expected,) = minilm.run([OUTPUT], tokenize(texts))
    np.testing.assert_allclose(hidden, expected, rtol=1e-4, atol=1e-4)
    assert wait_until_gone(str(export)) == []
    assert wait_until_gone(str(out)) == []
