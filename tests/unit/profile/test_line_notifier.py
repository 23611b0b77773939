"""The benchmarks' log lines (LineNotifier): what a run cut off by a time limit leaves."""

from __future__ import annotations

import pytest

from tritune.domain.measurement import LoadMode, LoadPoint, Measurement, MeasurementStatus
from tritune.profile.notify import LineNotifier


def test_each_load_and_measurement_is_a_line_and_an_unstable_one_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = LineNotifier(prefix="[cnn brute] ")
    notifier.variant_ready("cnn_config_3", 1.25, "warm-up 0.10 s (4 requests: batch 1, 2, 4, 8)")
    load = LoadPoint(LoadMode.CONCURRENCY, 16)
    notifier.measurement_done(
        "cnn_config_3", Measurement(load, MeasurementStatus.OK, {"perf_throughput": 7512.4}), False
    )
    unstable = Measurement(
        load, MeasurementStatus.UNSTABLE, {"perf_throughput": 180.0}, error="its windows held about 5 batches each"
    )
    notifier.measurement_done("cnn_config_3", unstable, True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "    [cnn brute] cnn_config_3: loaded in 1.2 s; warm-up 0.10 s (4 requests: batch 1, 2, 4, 8)"
    assert lines[1].startswith("    [cnn brute] cnn_config_3 at concurrency 16, batch 1: 7,512 infer/s, ok (")
    assert lines[2] == (
        "    [cnn brute] cnn_config_3 at concurrency 16, batch 1: 180 infer/s, unstable (stored): "
        "its windows held about 5 batches each"
    )
