"""The profile's progress lines: an unstable measurement is tagged, a busy host is named."""

from __future__ import annotations

import io

from rich.console import Console

from tritune.cli.progress import RichProgress
from tritune.domain.host_load import busy_host_warning
from tritune.domain.measurement import LoadPoint, Measurement
from tritune.domain.status import MeasurementStatus


def _lines(measurement: Measurement) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    with RichProgress(console, expected_measurements=1) as bar:
        bar.measurement_done("m_config_0", measurement, replayed=False)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_a_busy_unstable_measurement_is_tagged_and_its_cause_named() -> None:
    warning = str(busy_host_warning(1.3, 2))
    text = _lines(
        Measurement(
            LoadPoint(),
            MeasurementStatus.UNSTABLE,
            {"perf_throughput": 105.0, "perf_latency_p99": 9.0, "host_other_cpu": 1.3},
            warnings=("request latency is not stabilizing", warning),
        )
    )
    assert "105.0 infer/s" in text and "(unstable)" in text
    assert "busy host:" in text and "1.3 of the 2 cores" in text
    assert "request latency is not stabilizing" not in text  # only the busy host is singled out


def test_a_quiet_measurement_has_no_busy_line() -> None:
    text = _lines(Measurement(LoadPoint(), MeasurementStatus.OK, {"perf_throughput": 355.0, "host_other_cpu": 0.1}))
    assert "busy host" not in text and "(unstable)" not in text
