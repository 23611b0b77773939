"""Two models of a repository profiled concurrently on the real embedded Triton
(`--run-config-profile-models-concurrently-enable`): both are loaded and driven in the same
windows (Triton's statistics of each rise in every window), each model's latency constraint holds
in the pick, the summary says how the machine is shared, and the exported configs load together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_runner import CliResult, run_in_process
from profile_flags import SHORT_MEASUREMENT
from tritune.domain.metrics import model_metric
from tritune.domain.status import MeasurementStatus
from tritune.loadgen import ConcurrentDriver, LoadSpec, MeasureOptions, StabilityCriteria, WindowSpec
from tritune.report import write_reports
from tritune.store import Store
from tritune.testing.ensemble_repository import WIDTH, write_ensemble_repository
from tritune.testing.processes import wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import from_pbtxt
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

MODELS = ("prep", "scaled")
LATENCY_CAP_MS = {"prep": 1500.0, "scaled": 2000.0}
# Only the manual list varies: 1 or 2 instances of prep (2 configurations); scaled as written.
CONFIG = f"""
profile_models:
  prep:
    model_config_parameters:
      instance_group: [{{count: [1, 2], kind: KIND_CPU}}]
    constraints: {{perf_latency_p99: {{max: {LATENCY_CAP_MS["prep"]}}}}}
    weighting: 2
  scaled:
    constraints: {{perf_latency_p99: {{max: {LATENCY_CAP_MS["scaled"]}}}}}
run_config_search_disable: true
"""


def _profile(config: Path, repository: Path, out: Path, export: Path) -> CliResult:
    """The bounded profile of the pipeline tests (one concurrency, two finalists, one confirm
    round), with the models profiled concurrently by the command-line flag."""
    command = ["profile", "-f", str(config), "--model-repository", str(repository), "--export-path", str(out)]
    command += ["--run-config-profile-models-concurrently-enable", "--export", str(export), "--json", "--no-report"]
    command += [*SHORT_MEASUREMENT, "--run-config-search-min-concurrency", "2"]
    command += ["--run-config-search-max-concurrency", "2"]
    command += ["--num-configs-per-model", "2", "--confirm-rounds", "1", "--confirm-max-rounds", "1"]
    return run_in_process(*command)


def test_both_models_are_served_in_the_same_windows(tmp_path: Path) -> None:
    """One measurement of the two: Triton's statistics of each model rose in every window, and
    each model's result merges the same windows."""
    repository = write_ensemble_repository(tmp_path / "models")
    options = MeasureOptions(
        window=WindowSpec(window_ns=200_000_000),
        stability=StabilityCriteria(threshold=0.5, max_windows=4),
    )
    with EmbeddedTriton(repository) as server, ModelControl(server) as control:
        for model in MODELS:
            control.load(model)
        with ConcurrentDriver(server, {m: m for m in MODELS}, options) as driver:
            result = driver.measure(LoadSpec.concurrency(2))
    assert result.status is not MeasurementStatus.FAILED, {m: r.reason for m, r in result.results.items()}
    windows = {len(r.windows) for r in result.results.values()}
    assert len(windows) == 1 and windows.pop() >= 3, "the models' windows differ"
    assert len(result.kept) >= 3
    for model in MODELS:
        counts = result.server_requests[model]
        assert len(counts) == len(result.results[model].windows), (model, counts)
        # Every window of the measurement, for both models: served concurrently, not in turn.
        assert all(c is not None and c > 0 for c in counts), (model, counts)
        assert result.results[model].client is not None and result.results[model].client.completed > 0
    measurement = result.to_measurement({"prep": 2.0, "scaled": 1.0})
    throughputs = {m: measurement.metrics[model_metric(m, "perf_throughput")] for m in MODELS}
    assert measurement.metrics["weighted_throughput"] == pytest.approx(2 * throughputs["prep"] + throughputs["scaled"])
    # Each model's stubs' own memory (not the host's), summed for what the two take together.
    memory = {m: measurement.metrics[model_metric(m, "cpu_used_ram")] for m in MODELS}
    assert measurement.metrics["cpu_used_ram"] == pytest.approx(sum(memory.values()))
    assert wait_until_gone(str(repository)) == []


@pytest.mark.slow  # the fast tier measures the pair together (above) and loads their group (unit)
def test_two_models_profiled_concurrently_share_the_machine_within_their_constraints(tmp_path: Path) -> None:
    repository = write_ensemble_repository(tmp_path / "models")
    (tmp_path / "config.yaml").write_text(CONFIG)
    out, export = tmp_path / "out", tmp_path / "exported"
    result = _profile(tmp_path / "config.yaml", repository, out, export)
    assert result.returncode == 0, result.stderr[-3000:]
    (summary,) = json.loads(result.stdout)
    assert summary["model"] == "prep_and_scaled" and summary["best"] and summary["configurations"] == 2
    assert summary["constraints_met"] is True
    # The sentence says how the machine is shared: each model's knobs and what it served.
    assert "Served together" in summary["sentence"], summary["sentence"]
    assert all(f"{m} gets " in summary["sentence"] for m in MODELS), summary["sentence"]

    run_dir = out / "tritune_runs" / "prep_and_scaled"
    with Store.in_run_dir(run_dir) as store:
        (run,) = store.runs()
        variants = {v.name: v for v in store.variants(run.id)}
        measured = {name: [m.measurement for m in store.measurements(v.id)] for name, v in variants.items()}
    assert {v.serving.step("prep").instance_count for v in variants.values()} == {1, 2}
    for name, variant in variants.items():
        for model in MODELS:  # each variant served both models under its own names
            served = run_dir / "output_model_repository" / f"{name}.{model}" / "config.pbtxt"
            assert from_pbtxt(served.read_text()).instance_group[0].count == variant.serving.step(model).instance_count
    # Every usable measurement holds each model's own numbers beside the combined objective.
    usable = [m for ms in measured.values() for m in ms if m.status is not MeasurementStatus.FAILED]
    assert usable
    for measurement in usable:
        metrics = measurement.metrics
        assert all(metrics[model_metric(m, "perf_throughput")] > 0 for m in MODELS), metrics
        assert metrics["weighted_throughput"] == pytest.approx(
            2 * metrics[model_metric("prep", "perf_throughput")] + metrics[model_metric("scaled", "perf_throughput")]
        )
    # Each model's constraint holds at the pick: in a measurement of it (stable or not: a busy
    # host may leave every window unsteady, and the pick is still ranked on its numbers).
    best = [m for m in measured[summary["best"]] if m.status is not MeasurementStatus.FAILED]
    assert best, measured[summary["best"]]
    assert any(
        all(m.metrics[model_metric(model, "perf_latency_p99")] <= cap for model, cap in LATENCY_CAP_MS.items())
        for m in best
    )

    # The best is one config per model, exported together; they load on a fresh server and serve.
    for model in MODELS:
        exported = export / model / "config.pbtxt"
        assert exported.read_text() == (run_dir / "best" / model / "config.pbtxt").read_text(), model
        assert from_pbtxt(exported.read_text()).name == model
    assert from_pbtxt((export / "prep" / "config.pbtxt").read_text()).instance_group[0].count == (
        variants[summary["best"]].serving.step("prep").instance_count
    )
    x = np.linspace(-1, 1, 2 * WIDTH, dtype=np.float32).reshape(2, WIDTH)
    with EmbeddedTriton(export) as server, ModelControl(server) as control:
        for model in MODELS:
            control.load(model)
        assert all(control.is_ready(model) for model in MODELS)
        with InferClient(server.endpoints, "grpc") as client:
            assert client.infer("prep", {"raw": x})["x"].shape == (2, WIDTH)
            assert client.infer("scaled", {"x": x})["y"].shape == (2, WIDTH)
    assert wait_until_gone(str(export)) == []
    assert wait_until_gone(str(out)) == []

    # The report says the same: the models share the machine (no ensemble pipeline to show).
    (model,) = write_reports(run_dir, pdf=False).models
    assert model.data.concurrent and model.data.pipeline is None
    assert model.data.sentence == summary["sentence"]
