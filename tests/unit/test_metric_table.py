"""The metric table as the one home of metric names and of how a metric combines."""

from __future__ import annotations

import pytest

from tritune.domain import metrics
from tritune.domain.metrics import (
    CPU_USED_RAM,
    GPU_UTILIZATION,
    HOST_OTHER_CPU,
    LATENCY_P99,
    METRICS,
    SERVER_QUEUE,
    THROUGHPUT,
    Combine,
    combine,
)

# The module's names that are not metric names.
_NOT_METRICS = {"STEP_PREFIX", "MODEL_PREFIX"}


def _constants() -> dict[str, str]:
    return {
        key: value
        for key, value in vars(metrics).items()
        if key.isupper() and isinstance(value, str) and not key.startswith("_") and key not in _NOT_METRICS
    }


def test_every_metric_constant_is_in_the_table_and_every_entry_has_one() -> None:
    constants = _constants()
    assert len(constants) >= 20
    assert {value for value in constants.values() if value not in METRICS} == set()
    assert set(METRICS) - set(constants.values()) == set()
    assert len(set(constants.values())) == len(constants)  # no name written twice


def test_the_table_says_how_readings_combine() -> None:
    assert combine(THROUGHPUT, [100.0, 40.0]) == 140.0  # what the parts served adds up
    assert combine(CPU_USED_RAM, [300.0, 200.0]) == 500.0
    assert combine(LATENCY_P99, [5.0, 9.0]) == 9.0  # the worst part's latency speaks for all
    assert combine(GPU_UTILIZATION, [50.0, 25.0]) == 37.5  # a utilization is the parts' mean
    with pytest.raises(ValueError, match="no rule"):
        combine(SERVER_QUEUE, [1.0, 2.0])  # each part's own
    with pytest.raises(ValueError, match="no rule"):
        combine(THROUGHPUT, [])


def test_machine_readings_are_the_hosts() -> None:
    machine = {name for name, entry in METRICS.items() if entry.machine}
    assert {HOST_OTHER_CPU, GPU_UTILIZATION} <= machine
    assert THROUGHPUT not in machine and LATENCY_P99 not in machine
    assert METRICS[SERVER_QUEUE].combine is Combine.NONE
