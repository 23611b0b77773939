"""Plot infos (what each plot shows), checked on the data, then drawn once to catch plotly errors."""

from __future__ import annotations

from pathlib import Path

from tritune.report import build_report_data, load_run
from tritune.report.figures import plot
from tritune.report.plot_info import (
    Guide,
    breakdown_info,
    detailed_infos,
    memory_latency_info,
    pareto_info,
    resource_infos,
    summary_infos,
    throughput_batch_info,
    throughput_latency_info,
)
from tritune.testing.sample_run import write_sample_run

CONSTRAINED = {"objectives": {"perf_throughput": 1}, "constraints": {"perf_latency_p99": {"max": 10}}}


def _data(tmp_path: Path, **kwargs):
    return build_report_data(load_run(write_sample_run(tmp_path, **kwargs)))


def test_throughput_vs_latency_draws_top_n_and_default_with_the_budget(tmp_path: Path):
    data = _data(tmp_path, settings={**CONSTRAINED, "top_n": 2})
    info = throughput_latency_info(data)
    assert [s.name for s in info.series] == ["toy_config_0", "toy_config_1", "toy_config_default (default)"]
    first = info.series[0]
    assert first.x == (2.5, 3.5, 6.0) and first.y == (120.0, 220.0, 300.0)
    assert first.color == data.config("toy_config_0").color and not first.dashed
    assert info.series[-1].dashed  # the default is drawn dashed
    assert info.guides == (Guide("x", 10.0, "max 10"),)


def test_memory_plot_follows_the_hardware(tmp_path: Path):
    gpu = memory_latency_info(_data(tmp_path / "gpu"))
    assert gpu is not None and gpu.y_label == "GPU memory (MB)" and gpu.series[0].y == (800.0, 800.0, 800.0)
    cpu = memory_latency_info(_data(tmp_path / "cpu", cpu_only=True))
    assert cpu is not None and cpu.y_label == "RAM usage (MB)" and cpu.series[0].y == (1050.0,) * 3


def test_offline_mode_adds_throughput_vs_batch(tmp_path: Path):
    online = summary_infos(_data(tmp_path / "on"))
    assert [i.key for i in online] == ["throughput-vs-latency", "memory-vs-latency", "pareto-front"]
    data = _data(tmp_path / "off", settings={"mode": "offline"})
    assert [i.key for i in summary_infos(data)][2] == "throughput-vs-batch"
    # The sample sweeps concurrency only, so the batch axis is each config's max batch size.
    info = throughput_batch_info(data)
    assert info.x_label == "Max batch size" and not info.lines
    assert [(s.x, s.y) for s in info.series][0] == ((16.0,), (400.0,))


def test_pareto_info_is_the_data_front(tmp_path: Path):
    data = _data(tmp_path)
    info = pareto_info(data)
    assert list(zip(info.front.x, info.front.y, strict=True)) == [(p.x, p.y) for p in data.pareto]
    assert len(info.clouds) == 4  # every config with a usable measurement
    assert sum(len(s.x) for s in info.clouds) == 12


def test_detailed_infos_breakdown_and_resources(tmp_path: Path):
    config = _data(tmp_path).config("toy_config_0")
    breakdown = breakdown_info(config)
    assert breakdown.categories == ("1", "2", "4") and breakdown.x_label == "Concurrency"
    assert [label for label, _, _ in breakdown.stacks] == [
        "Queue",
        "Compute input",
        "Compute infer",
        "Compute output",
        "Client send/recv",
    ]
    assert breakdown.stacks[0][2] == (0.1, 0.2, 0.4)
    assert breakdown.throughput == (120.0, 220.0, 300.0)
    assert [i.key for i in resource_infos(config)] == [
        "gpu-used-memory-toy_config_0",
        "cpu-used-ram-toy_config_0",
        "gpu-utilization-toy_config_0",
        "gpu-power-usage-toy_config_0",
    ]


def test_every_info_draws(tmp_path: Path):
    data = _data(tmp_path, settings={**CONSTRAINED, "mode": "offline"})
    infos = summary_infos(data) + [i for name in data.top for i in detailed_infos(data.config(name))]
    for info in infos:
        figure = plot(info)
        assert figure.data, info.key
        assert all(trace.type in {"scatter", "bar"} for trace in figure.data)  # SVG, never WebGL


def test_the_confirm_rounds_plot_shows_each_finalist_round_by_round(tmp_path: Path):
    from dataclasses import replace

    from tritune.domain.measurement import MeasurementStatus
    from tritune.store import Store

    run_dir = write_sample_run(tmp_path)
    assert "confirm-rounds" not in [i.key for i in summary_infos(build_report_data(load_run(run_dir)))]
    with Store.in_run_dir(run_dir) as store:
        (run,) = store.runs()
        finalists = [v for v in store.variants(run.id) if v.name in ("toy_config_0", "toy_config_default")]
        for round_index in (1, 2, 3):
            for variant in finalists:
                best = max(store.measurements(variant.id), key=lambda r: r.measurement.metrics["perf_throughput"])
                value = best.measurement.metrics["perf_throughput"] + round_index
                status = MeasurementStatus.UNSTABLE if round_index == 2 else MeasurementStatus.OK
                measured = replace(
                    best.measurement, metrics={**best.measurement.metrics, "perf_throughput": value}, status=status
                )
                store.add_measurement(variant.id, measured, repeat=round_index)
    data = build_report_data(load_run(run_dir))
    infos = summary_infos(data)
    info = infos[0]  # first on the page: the pick's evidence
    assert info.key == "confirm-rounds" and info.y_label == "Throughput (infer/sec)"
    assert sorted(s.name.removesuffix(" (default)") for s in info.series) == ["toy_config_0", "toy_config_default"]
    for series in info.series:
        assert series.x == (1.0, 2.0, 3.0)
        assert series.y[1] - series.y[0] == 1.0 and series.y[2] - series.y[1] == 1.0
        assert series.text[1] == "round 2: unstable"
    plot(info)  # plotly accepts it
