"""The evaluator warms each loaded variant up once, before its first measurement, and stores how
long that took; a warm-up that fails is a reason on the variant, never a crash."""

from pathlib import Path

from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import ServingConfig
from tritune.domain.status import VariantStatus
from tritune.domain.warmup_plan import WarmupPlan
from tritune.loadgen.warmup import Warmup
from tritune.profile.context import RunContext
from tritune.profile.evaluate import VariantEvaluator
from tritune.profile.notify import QuietNotifier
from tritune.store import Store
from tritune.testing.deployer import FixedLoadSweep, InMemoryDeployer

POINTS = [LoadPoint(LoadMode.CONCURRENCY, c, 2) for c in (1, 2, 4)]


class Events(QuietNotifier):
    def __init__(self) -> None:
        self.events: list[str] = []

    def variant_ready(self, name: str, load_time_s: float, warmup: str | None) -> None:
        self.events.append(f"ready {warmup}")


def _run(tmp_path: Path, error: str | None, *, warm: bool = True) -> tuple[list[str], Store]:
    events = Events()

    def warm_up(name: str, client_batch_size: int) -> Warmup:
        events.events.append(f"warm {name} b{client_batch_size}")
        return Warmup(WarmupPlan((2, 4, 8)), 0 if error else 3, 0.25, error)

    def measure(name: str, load: LoadPoint) -> Measurement:
        events.events.append(f"measure {int(load.value)}")
        return Measurement(load, MeasurementStatus.OK, {"perf_throughput": 1.0})

    store = Store.in_run_dir(tmp_path)
    run, _ = store.open_run("m", "fp", {}, {})
    context = RunContext(store, InMemoryDeployer(), measure, events, warm_up if warm else None)
    evaluator = VariantEvaluator(context, run)
    evaluator.evaluate("m_config_0", {"i": 0}, ServingConfig(max_batch_size=8), FixedLoadSweep(POINTS))
    return events.events, store


def test_the_warmup_comes_once_between_the_load_and_the_first_measurement(tmp_path: Path) -> None:
    events, store = _run(tmp_path, None)
    with store:
        assert events == [
            "warm m_config_0 b2",
            "ready warm-up 0.25 s (3 requests: batch 2, 4, 8)",
            "measure 1",
            "measure 2",
            "measure 4",
        ]
        (variant,) = store.variants(1)
        assert (variant.status, variant.warmup_s, variant.error) == (VariantStatus.LOADED, 0.25, None)


def test_a_failed_warmup_is_a_reason_on_the_variant_and_the_measurements_go_on(tmp_path: Path) -> None:
    events, store = _run(tmp_path, "warm-up at batch 8 failed: Internal: out of memory")
    with store:
        assert events[-3:] == ["measure 1", "measure 2", "measure 4"]
        (variant,) = store.variants(1)
        assert variant.status is VariantStatus.LOADED
        assert variant.error == "warm-up at batch 8 failed: Internal: out of memory"


def test_without_warmup_nothing_is_sent_or_stored(tmp_path: Path) -> None:
    events, store = _run(tmp_path, None, warm=False)
    with store:
        assert events == ["ready None", "measure 1", "measure 2", "measure 4"]
        assert store.variants(1)[0].warmup_s is None
