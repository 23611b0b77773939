"""A small run with known numbers, written into a real store: the report tests' fixture.

Four configurations measured at concurrency 1, 2 and 4, one that failed to load and one whose
every measurement failed. Throughput and p99 latency are chosen so the ranking, the gain and
the Pareto front are easy to work out by hand (see tests/unit/report).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tritune.domain.devices import InstanceKind
from tritune.domain.host_load import busy_host_warning
from tritune.domain.layout import RunLayout
from tritune.domain.measurement import LoadMode, LoadPoint, Measurement
from tritune.domain.metrics import (
    CLIENT_SEND_RECV,
    CPU_USED_RAM,
    GPU_POWER_USAGE,
    GPU_USED_MEMORY,
    GPU_UTILIZATION,
    HOST_OTHER_CPU,
    LATENCY_AVG,
    LATENCY_P50,
    LATENCY_P90,
    LATENCY_P95,
    LATENCY_P99,
    SERVER_COMPUTE_INFER,
    SERVER_COMPUTE_INPUT,
    SERVER_COMPUTE_OUTPUT,
    SERVER_QUEUE,
    THROUGHPUT,
)
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.domain.status import MeasurementStatus, RunStatus, VariantStatus
from tritune.store import Store
from tritune.triton.model_config import serving_model_config, to_pbtxt

MODEL = "toy"
GPU_UUID = "GPU-00000000-1111-2222-3333-444444444444"
HARDWARE: dict[str, Any] = {
    "cpu_model": "Test CPU 9000",
    "cpu_cores_logical": 8,
    "cpu_cores_physical": 4,
    "memory_total_bytes": 16 * 2**30,
    "gpus": [{"index": 0, "name": "Test GPU", "uuid": GPU_UUID, "memory_total_bytes": 24 * 2**30}],
}

# name -> (serving, is_default, [(concurrency, throughput, p99 ms)])
CONFIGS: dict[str, tuple[ServingConfig, bool, list[tuple[int, float, float]]]] = {
    f"{MODEL}_config_default": (
        ServingConfig(
            max_batch_size=8, instance_count=1, instance_kind=InstanceKind.KIND_GPU, dynamic_batching=DynamicBatching()
        ),
        True,
        [(1, 100.0, 2.0), (2, 150.0, 4.0), (4, 160.0, 8.0)],
    ),
    f"{MODEL}_config_0": (
        ServingConfig(
            max_batch_size=8,
            instance_count=2,
            instance_kind=InstanceKind.KIND_GPU,
            dynamic_batching=DynamicBatching(100),
        ),
        False,
        [(1, 120.0, 2.5), (2, 220.0, 3.5), (4, 300.0, 6.0)],
    ),
    f"{MODEL}_config_1": (
        ServingConfig(
            max_batch_size=16,
            instance_count=3,
            instance_kind=InstanceKind.KIND_GPU,
            dynamic_batching=DynamicBatching(500, (8,)),
        ),
        False,
        [(1, 110.0, 3.0), (2, 240.0, 5.0), (4, 400.0, 12.0)],
    ),
    f"{MODEL}_config_2": (
        ServingConfig(max_batch_size=4, instance_count=1, instance_kind=InstanceKind.KIND_GPU),
        False,
        [(1, 90.0, 1.5), (2, 100.0, 3.0), (4, 105.0, 9.0)],
    ),
}
LOAD_FAILED = f"{MODEL}_config_3"
ALL_FAILED = f"{MODEL}_config_4"


def _measured(concurrency: int, metrics: dict[str, float]) -> Measurement:
    return Measurement(LoadPoint(LoadMode.CONCURRENCY, concurrency, 1), MeasurementStatus.OK, metrics)


def _busy(concurrency: int, metrics: dict[str, float]) -> Measurement:
    if concurrency != 4:
        return _measured(concurrency, {**metrics, HOST_OTHER_CPU: 0.05})
    return Measurement(
        LoadPoint(LoadMode.CONCURRENCY, concurrency, 1),
        MeasurementStatus.UNSTABLE,
        {**metrics, HOST_OTHER_CPU: 1.3},
        error="failed to obtain a stable measurement within 10 windows",
        warnings=(str(busy_host_warning(1.3, 2)),),
    )


def _metrics(concurrency: int, throughput: float, p99: float, instances: int) -> dict[str, float]:
    queue = 0.1 * concurrency
    return {
        THROUGHPUT: throughput,
        LATENCY_P50: p99 * 0.6,
        LATENCY_P90: p99 * 0.8,
        LATENCY_P95: p99 * 0.9,
        LATENCY_P99: p99,
        LATENCY_AVG: p99 * 0.65,
        SERVER_QUEUE: queue,
        SERVER_COMPUTE_INPUT: 0.05,
        SERVER_COMPUTE_INFER: p99 * 0.5,
        SERVER_COMPUTE_OUTPUT: 0.03,
        CLIENT_SEND_RECV: 0.08,
        CPU_USED_RAM: 900.0 + 50 * instances,
        GPU_USED_MEMORY: 500.0 + 100 * instances,
        GPU_UTILIZATION: 10.0 * concurrency,
        GPU_POWER_USAGE: 50.0 + concurrency,
    }


def write_sample_run(
    run_dir: str | Path,
    *,
    settings: Mapping[str, Any] | None = None,
    status: RunStatus = RunStatus.COMPLETE,
    configs: int | None = None,
    with_config_files: bool = True,
    cpu_only: bool = False,
    busy_host: bool = False,
) -> Path:
    """Write the sample run into ``run_dir`` and return it.

    Args:
        settings: the run's stored settings (default: maximize throughput, no constraints, top 3).
        status: the run's final status ("complete", or "interrupted" for a partial run).
        configs: write only the first N of the good configurations (a partial run), skipping the failures.
        with_config_files: also write config.pbtxt files to the output model repository (not for config_2).
        cpu_only: a machine without GPU: no GPU in the hardware, no GPU metrics.
        busy_host: every measurement carries ``host_other_cpu`` (0.05 cores), and each config's
            concurrency-4 measurement ran on a busy host (1.3 of 2 cores, with the warning) and
            never stabilised (status unstable).
    """
    run_dir = Path(run_dir)
    settings = dict(settings) if settings is not None else {"objectives": {THROUGHPUT: 1}, "top_n": 3}
    with Store.in_run_dir(run_dir) as store:
        hardware = {**HARDWARE, "gpus": []} if cpu_only else HARDWARE
        run, _ = store.open_run(MODEL, "sample-fingerprint", settings, hardware)
        chosen = list(CONFIGS.items())[: configs if configs is not None else len(CONFIGS)]
        for index, (name, (serving, is_default, points)) in enumerate(chosen):
            variant = store.variant_for(run.id, {"index": index}, serving, name=name, is_default=is_default)
            store.set_variant_status(variant.id, VariantStatus.LOADED, load_time_s=1.0 + index)
            for concurrency, throughput, p99 in points:
                metrics = {
                    k: v
                    for k, v in _metrics(concurrency, throughput, p99, serving.instance_count).items()
                    if not (cpu_only and k.startswith("gpu_"))
                }
                store.add_measurement(
                    variant.id,
                    _busy(concurrency, metrics) if busy_host else _measured(concurrency, metrics),
                    duration_s=3.0,
                )
            if with_config_files and name != f"{MODEL}_config_2":
                path = RunLayout(run_dir).variant_config(name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(to_pbtxt(serving_model_config(name, serving)))
        if configs is None:
            failed = store.variant_for(
                run.id, {"index": 98}, ServingConfig(max_batch_size=128, instance_count=5), name=LOAD_FAILED
            )
            store.set_variant_status(failed.id, VariantStatus.FAILED, error="out of memory while loading")
            broken = store.variant_for(
                run.id, {"index": 99}, ServingConfig(max_batch_size=64, instance_count=4), name=ALL_FAILED
            )
            store.set_variant_status(broken.id, VariantStatus.LOADED, load_time_s=2.0)
            for concurrency in (1, 2):
                store.add_measurement(
                    broken.id,
                    Measurement(
                        load=LoadPoint(LoadMode.CONCURRENCY, concurrency, 1),
                        status=MeasurementStatus.FAILED,
                        error="every request failed: Internal error",
                    ),
                )
        store.set_run_status(run.id, RunStatus(status))
    return run_dir
