"""The warm-up on the embedded Triton: before a variant's first measurement the server has run
each batch size the plan names (once per instance: Triton runs the samples tritune writes into
the config on every instance as it loads), and the time is stored and reported."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cli_runner import run_in_process
from tritune.domain.layout import RunLayout
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.domain.warmup_plan import warmup_batch_sizes
from tritune.loadgen import MeasureOptions, StabilityCriteria, WindowSpec, make_measure_fn, make_warmup_fn
from tritune.loadgen.server_stats import parse_model_stats
from tritune.profile.context import RunContext
from tritune.profile.deploy import GroupDeployer
from tritune.profile.entries import ModelFileEntries
from tritune.profile.evaluate import VariantEvaluator
from tritune.profile.notify import QuietNotifier
from tritune.report import build_report_data, load_run
from tritune.store import Store
from tritune.testing.deployer import FixedLoadSweep
from tritune.testing.models import mlp_model
from tritune.triton.control import ModelControl
from tritune.triton.http_api import TritonHttp
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton

FAST = MeasureOptions(
    window=WindowSpec(window_ns=150_000_000), stability=StabilityCriteria(threshold=0.5, max_windows=4)
)
SERVING = ServingConfig(max_batch_size=8, instance_count=2, dynamic_batching=DynamicBatching())
POINTS = [LoadPoint(LoadMode.CONCURRENCY, c, 1) for c in (1, 2)]


def _batch_executions(api: TritonHttp, model: str, expected: int) -> dict[int, int]:
    """The model's executions per batch size, once the server has counted ``expected`` of them:
    Triton counts an execution after its response is sent, so the last one may lag a little."""
    deadline = time.monotonic() + 10
    while True:
        snapshot = parse_model_stats(api.statistics(model), model)
        counts = dict(snapshot.batch_executions) if snapshot else {}
        if sum(counts.values()) >= expected or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


@pytest.fixture(scope="module")
def warm_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("warmup-model") / "mlp.onnx", width=16, depth=1)


def test_each_planned_batch_size_runs_before_the_first_measurement(
    tmp_path: Path, triton_server: EmbeddedTriton, control: ModelControl, triton_repo: Path, warm_model: Path
) -> None:
    name = "warm_config_0"
    planned = warmup_batch_sizes(8, dynamic_batching=True)
    api = TritonHttp(triton_server.endpoints.http)
    measure = make_measure_fn(triton_server, FAST)
    seen: list[dict[int, int]] = []

    def first_sees_the_server(model: str, load: LoadPoint) -> Measurement:
        if not seen:
            seen.append(_batch_executions(api, model, expected=len(planned) * SERVING.instance_count))
        return measure(model, load)

    with Store.in_run_dir(tmp_path) as store:
        run, _ = store.open_run("warm", "fp", {}, {})
        context = RunContext(
            store,
            GroupDeployer(control, triton_repo, ModelFileEntries({"fp32": warm_model})),
            first_sees_the_server,
            QuietNotifier(),
            make_warmup_fn(triton_server, FAST),
        )
        evaluator = VariantEvaluator(context, run)
        evaluation = evaluator.evaluate(name, {"i": 0}, SERVING, FixedLoadSweep(POINTS))
        assert evaluation.failed is None and evaluation.measured_now == len(POINTS)
        (variant,) = store.variants(run.id)
        assert variant.error is None and variant.warmup_s is not None and variant.warmup_s > 0
    # Each batch size ran as its own batch, once per instance.
    assert planned == (1, 2, 4, 8)
    assert seen == [dict.fromkeys(planned, SERVING.instance_count)]
    config = build_report_data(load_run(tmp_path)).config(name)
    assert config.warmup_s == variant.warmup_s and config.load_time_s == variant.load_time_s


def test_profile_stores_and_reports_each_variants_warmup(tmp_path: Path, warm_model: Path) -> None:
    run_dir = tmp_path / "run"
    # The default and one configuration of a manual list: each variant's warm-up is what is tested.
    config = tmp_path / "profile.yaml"
    config.write_text("profile_models:\n  mlp:\n    model_config_parameters:\n      max_batch_size: [2]\n")
    bounded = [
        *("--measurement-interval", "150", "--max-trials", "4", "--stability-percentage", "50"),
        *("-f", str(config), "--run-config-search-disable", "--run-config-search-max-concurrency", "2"),
        *("--confirm-rounds", "0"),
    ]
    result = run_in_process("profile", str(warm_model), "--run-dir", str(run_dir), *bounded, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    with Store.in_run_dir(run_dir) as store:
        (run,) = store.runs()
        measured = [v for v in store.variants(run.id) if store.measurements(v.id)]
        assert len(measured) >= 2
        assert all(v.warmup_s is not None and v.warmup_s > 0 and v.error is None for v in measured)
    (report,) = json.loads(RunLayout(run_dir).report_json.read_text())["reports"]
    warmups = {c["name"]: c["warmup_s"] for c in report["configs"]}
    assert {v.name: v.warmup_s for v in measured} == {k: warmups[k] for k in (v.name for v in measured)}


def test_triton_warms_every_instance_up_as_it_loads(
    triton_server: EmbeddedTriton, control: ModelControl, triton_repo: Path, warm_model: Path
) -> None:
    """The config's warm-up samples run on both instances before the load returns: the server
    counts them before any client request, and the load generator sends none of them again."""
    name = "warm_by_server"
    deploy_onnx(triton_repo, name, warm_model, SERVING, share=True)
    control.load(name)
    try:
        api = TritonHttp(triton_server.endpoints.http)
        counted = parse_model_stats(api.statistics(name), name)
        assert counted is not None and dict(counted.batch_executions) == {1: 2, 2: 2, 4: 2, 8: 2}
        warmup = make_warmup_fn(triton_server, FAST)(name, 1)
        assert warmup.by_server == (1, 2, 4, 8) and warmup.sent == 0 and warmup.error is None
        assert warmup.seconds > 0  # Triton's own time for them, from its statistics
        assert "by Triton as it loaded: batch 1, 2, 4, 8, 2 instances at once" in warmup.describe()
        after = parse_model_stats(api.statistics(name), name)
        assert after is not None and after.execution_count == counted.execution_count
    finally:
        control.unload(name)
