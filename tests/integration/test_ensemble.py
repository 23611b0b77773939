"""`tritune profile --model-repository` on an ensemble: the load goes to the ensemble, the search
varies its composing models' knobs jointly, the best is a set of configs exported together that
serve the pipeline on a fresh server, and the report shows each step's share of the latency."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from cli_runner import run_in_process
from profile_flags import profile_pipeline
from tritune.domain.metrics import step_metric
from tritune.report import write_reports
from tritune.store import Store
from tritune.testing.ensemble_repository import PREP_SCALE, WIDTH, write_ensemble_repository
from tritune.testing.processes import wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import from_pbtxt
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

STEPS = ("prep", "scaled")
# Only the manual lists vary: 1 or 2 instances of each composing model, jointly (4 configurations).
CONFIG = """
profile_models:
  pipeline:
    model_config_parameters:
      instance_group: [{count: [1, 2], kind: KIND_CPU}]
run_config_search_disable: true
"""


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_an_ensemble_is_profiled_jointly_and_its_configs_serve_together(tmp_path: Path) -> None:
    repository = write_ensemble_repository(tmp_path / "models")
    before = _snapshot(repository)
    (tmp_path / "config.yaml").write_text(CONFIG)
    out, export = tmp_path / "out", tmp_path / "exported"
    result = profile_pipeline(tmp_path / "config.yaml", repository, out, export)
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout)
    assert summary["model"] == "pipeline" and summary["best"] and summary["configurations"] == 4
    assert _snapshot(repository) == before, "the user's repository changed"

    # Each configuration served its composing models under its own names, with the joint knobs.
    run_dir = out / "tritune_runs" / "pipeline"
    with Store.in_run_dir(run_dir) as store:
        (run,) = store.runs()
        variants = store.variants(run.id)
        measurements = [m for v in variants for m in store.measurements(v.id)]
    counts = {tuple(v.serving.step(s).instance_count for s in STEPS) for v in variants}
    assert counts == {(1, 1), (1, 2), (2, 1), (2, 2)}
    for variant in variants:
        ensemble = from_pbtxt((run_dir / "output_model_repository" / variant.name / "config.pbtxt").read_text())
        assert [s.model_name for s in ensemble.ensemble_scheduling.step] == [f"{variant.name}.{s}" for s in STEPS]
        prep = from_pbtxt((run_dir / "output_model_repository" / f"{variant.name}.prep" / "config.pbtxt").read_text())
        assert prep.instance_group[0].count == variant.serving.step("prep").instance_count

    # The load went to the ensemble; each step's time, from Triton's statistics of its model, is
    # stored beside the ensemble's, and over the run the steps add up to the ensemble's time
    # within 10 % (one measurement's window edges may move it a little more).
    measured = [m.measurement.metrics for m in measurements if m.measurement.metric("perf_server_request")]
    assert len(measured) >= 4
    steps = sum(metrics[step_metric(s, "request")] for metrics in measured for s in STEPS)
    ensemble = sum(metrics["perf_server_request"] for metrics in measured)
    assert steps == pytest.approx(ensemble, rel=0.10), measured

    # The best is a set of configs, exported together; they load on a fresh server and serve the pipeline.
    best = run_dir / "best"
    for entry in ("pipeline", *STEPS):
        assert (best / entry / "config.pbtxt").read_text() == (export / entry / "config.pbtxt").read_text(), entry
    exported = from_pbtxt((export / "pipeline" / "config.pbtxt").read_text())
    assert [s.model_name for s in exported.ensemble_scheduling.step] == list(STEPS)
    diff = (best / "config.diff").read_text()
    assert "best/prep/config.pbtxt" in diff and "best/scaled/config.pbtxt" in diff
    x = np.linspace(-1, 1, 2 * WIDTH, dtype=np.float32).reshape(2, WIDTH)
    mlp = ort.InferenceSession(str(repository / "scaled" / "1" / "mlp.onnx"))
    (expected,) = mlp.run(["y"], {"x": (x * PREP_SCALE).astype(np.float32)})
    with EmbeddedTriton(export) as server, ModelControl(server) as control:
        control.load("pipeline")
        assert all(control.is_ready(name) for name in STEPS)
        with InferClient(server.endpoints, "grpc") as client:
            y = client.infer("pipeline", {"raw": x})["y"]
    np.testing.assert_allclose(y, 2.0 * expected, rtol=1e-5)

    # The report shows the pipeline: each step with its knobs and its share of the ensemble's time.
    written = write_reports(run_dir, pdf=False)
    (model,) = written.models
    pipeline = model.data.pipeline
    assert pipeline is not None and pipeline.config == summary["best"]
    assert [s.model for s in pipeline.steps] == list(STEPS)
    assert sum(s.share or 0 for s in pipeline.steps) == pytest.approx(1.0, abs=0.10), pipeline
    html = model.summary_html.read_text()
    assert 'id="pipeline-steps"' in html and all(f'data-step="{s}"' in html for s in STEPS)
    assert wait_until_gone(str(export)) == []
    assert wait_until_gone(str(out)) == []


def test_an_ensemble_on_a_server_that_reads_another_repository_is_refused_before_the_search(tmp_path: Path) -> None:
    """Triton finds an ensemble's composing models in its own repository only, where models sent
    with a load request are not: the profile stops with the fix before measuring anything."""
    repository = write_ensemble_repository(tmp_path / "models")
    (tmp_path / "theirs").mkdir()
    out = tmp_path / "out"
    with EmbeddedTriton(tmp_path / "theirs") as server:
        endpoints = server.endpoints
        command = ["profile", "--model-repository", str(repository), "--profile-models", "pipeline"]
        command += ["--export-path", str(out), "--triton-launch-mode", "remote"]
        command += ["--triton-http-endpoint", endpoints.http, "--triton-grpc-endpoint", endpoints.grpc]
        result = run_in_process(*command)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: pipeline is an ensemble, which tritune profiles on a server that reads the run's output "
        "repository: use the embedded or local launch mode, not a remote server"
    )
    with Store.in_run_dir(out / "tritune_runs" / "pipeline") as store:
        assert store.runs() == []  # refused before the search: no run, nothing measured
    assert wait_until_gone(str(out)) == []
