"""Resume against a real SQLite store: a variant the server failed is tried again, a variant the
model failed stays failed."""

from pathlib import Path

import pytest

from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import ServingConfig
from tritune.domain.status import FailureCause, VariantStatus
from tritune.errors import ModelLoadError, ServerError
from tritune.profile.context import RunContext
from tritune.profile.evaluate import VariantEvaluation, VariantEvaluator
from tritune.profile.notify import QuietNotifier
from tritune.store import Store
from tritune.testing.deployer import FixedLoadSweep, InMemoryDeployer

SERVING = ServingConfig(max_batch_size=8)
POINTS = [LoadPoint(LoadMode.CONCURRENCY, c, 1) for c in (1, 2)]


class FailingDeployer(InMemoryDeployer):
    """Raises ``error`` on every load while it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None

    def load(self, name: str, serving: ServingConfig, precision: str) -> float:
        if self.error is not None:
            raise self.error
        return super().load(name, serving, precision)


def _measure(name: str, load: LoadPoint) -> Measurement:
    return Measurement(load, MeasurementStatus.OK, {"perf_throughput": 10.0 * load.value})


def _evaluate(store: Store, deployer: FailingDeployer, params: dict[str, int]) -> VariantEvaluation:
    run, _ = store.open_run("m", "fp", {}, {})
    evaluator = VariantEvaluator(RunContext(store, deployer, _measure, QuietNotifier()), run)
    return evaluator.evaluate(f"m_config_{params['i']}", params, SERVING, FixedLoadSweep(POINTS))


def test_a_server_failure_stops_the_run_and_is_retried_on_resume(tmp_path: Path) -> None:
    deployer = FailingDeployer()
    deployer.error = ServerError("cannot reach Triton at http://127.0.0.1:1: start it")
    with Store.in_run_dir(tmp_path) as store, pytest.raises(ServerError, match="cannot reach"):
        _evaluate(store, deployer, {"i": 0})
    with Store.in_run_dir(tmp_path) as store:
        (variant,) = store.variants(1)
        assert (variant.status, variant.failure) == (VariantStatus.FAILED, FailureCause.SERVER)
    deployer.error = None  # the user fixed the server; the same command resumes
    with Store.in_run_dir(tmp_path) as store:
        evaluation = _evaluate(store, deployer, {"i": 0})
        assert evaluation.failed is None and evaluation.measured_now == len(POINTS)
        (variant,) = store.variants(1)
        assert (variant.status, variant.failure, variant.error) == (VariantStatus.LOADED, None, None)
    assert deployer.loads == 1


def test_a_model_failure_stays_failed_on_resume(tmp_path: Path) -> None:
    deployer = FailingDeployer()
    deployer.error = ModelLoadError("model 'm_config_1' failed to load: bad config")
    with Store.in_run_dir(tmp_path) as store:
        assert _evaluate(store, deployer, {"i": 1}).failed == deployer.error.message
    deployer.error = None
    with Store.in_run_dir(tmp_path) as store:
        evaluation = _evaluate(store, deployer, {"i": 1})
        assert evaluation.failed == "model 'm_config_1' failed to load: bad config"
        assert evaluation.measured_now == 0
        (variant,) = store.variants(1)
        assert (variant.status, variant.failure) == (VariantStatus.FAILED, FailureCause.MODEL)
    assert deployer.loads == 0
