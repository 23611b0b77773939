"""The store against a real SQLite file."""

from pathlib import Path

import pytest

from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.domain.serving import DynamicBatching, RunnerOptions, ServingConfig
from tritune.domain.status import VariantStatus
from tritune.errors import UsageError
from tritune.store import Store

SERVING = ServingConfig(
    max_batch_size=8,
    instance_count=2,
    dynamic_batching=DynamicBatching(100, (4, 8)),
    runner=RunnerOptions(execution_providers=("CPUExecutionProvider",), intra_op_threads=1),
)


def _measurement(concurrency: int, throughput: float, status: MeasurementStatus = MeasurementStatus.OK) -> Measurement:
    return Measurement(
        load=LoadPoint(LoadMode.CONCURRENCY, concurrency, 1),
        status=status,
        metrics={"perf_throughput": throughput, "perf_latency_p99": 1.5 * concurrency},
        error=None if status is MeasurementStatus.OK else "never stabilized",
        warnings=("w",),
    )


def test_everything_written_survives_reopening(tmp_path: Path):
    with Store.in_run_dir(tmp_path) as store:
        run, resumed = store.open_run("m", "fp1", {"objectives": {"perf_throughput": 1}}, {"cpu": "x"})
        assert not resumed
        variant = store.variant_for(run.id, {"instance_count": 2, "max_batch_size": 8}, SERVING, name="m_config_0")
        store.set_variant_status(variant.id, VariantStatus.LOADED, load_time_s=1.25)
        store.add_measurement(variant.id, _measurement(1, 100.0), duration_s=3.0)
        store.add_measurement(variant.id, _measurement(2, 0.0, MeasurementStatus.UNSTABLE))
    with Store.in_run_dir(tmp_path) as store:
        run, resumed = store.open_run("m", "fp1", {}, {})
        assert resumed
        assert run.settings == {"objectives": {"perf_throughput": 1}}
        (variant,) = store.variants(run.id)
        assert variant.serving == SERVING
        assert variant.status == VariantStatus.LOADED and variant.load_time_s == 1.25
        records = store.measurements(variant.id)
        assert [r.measurement for r in records] == [
            _measurement(1, 100.0),
            _measurement(2, 0.0, MeasurementStatus.UNSTABLE),
        ]
        assert store.find_measurement(variant.id, LoadPoint(LoadMode.CONCURRENCY, 1, 1)) == _measurement(1, 100.0)
        assert store.find_measurement(variant.id, LoadPoint(LoadMode.CONCURRENCY, 4, 1)) is None
        assert store.measurement_count(run.id) == 2


def test_same_params_give_the_same_variant_in_any_key_order(tmp_path: Path):
    with Store.in_run_dir(tmp_path) as store:
        run, _ = store.open_run("m", "fp", {}, {})
        a = store.variant_for(run.id, {"a": 1, "b": 2}, SERVING, name="m_config_0")
        b = store.variant_for(run.id, {"b": 2, "a": 1}, SERVING, name="m_config_1")
        assert a.id == b.id and b.name == "m_config_0"
        assert store.variant_count(run.id) == 1


def test_another_fingerprint_is_another_run(tmp_path: Path):
    with Store.in_run_dir(tmp_path) as store:
        first, _ = store.open_run("m", "fp1", {}, {})
        second, resumed = store.open_run("m", "fp2", {}, {})
        assert not resumed and first.id != second.id
        assert [r.fingerprint for r in store.runs()] == ["fp1", "fp2"]


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path):
    (tmp_path / "tritune.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="is not a tritune store"):
        Store.in_run_dir(tmp_path)
