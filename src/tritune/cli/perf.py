"""``tritune perf``: perf_analyzer's measurement, in tritune's engine.

MODEL is an .onnx file (deployed on the embedded Triton) or, with ``-u``, the name of a model
already loaded on a running Triton. The summary lines go to stdout (or stderr with --json,
which then prints the results as JSON on stdout).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
from rich.table import Table

from tritune.cli import options
from tritune.cli.app import App
from tritune.cli.options import check_writable
from tritune.cpus import client_side, server_split
from tritune.domain.connection import Connection
from tritune.domain.devices import choose_device
from tritune.domain.host_load import is_busy_host_warning
from tritune.domain.measurement import LoadMode, MeasurementStatus
from tritune.domain.names import check_model_name, default_model_name
from tritune.domain.serving import DynamicBatching, ServingConfig, default_serving_config
from tritune.errors import STORAGE_ERRNOS, InferenceError, UsageError, storage_error
from tritune.inputs import parse_shape_options
from tritune.loadgen import LoadDriver, LoadSpec, MeasureOptions, PerfResult, StabilityCriteria, WindowMode, WindowSpec
from tritune.loadgen.pa_output import to_csv, to_dict
from tritune.loadgen.schedule import Distribution, parse_range, read_intervals_file
from tritune.loadgen.shm import SHM_MODES
from tritune.loadgen.warmup import warm_up
from tritune.triton.control import ModelControl
from tritune.triton.model_config import read_signature
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton, RemoteTriton, TritonServer
from tritune.triton.tls import check_files


def default_serving(path: Path, max_batch_size: int | None = None) -> ServingConfig:
    """What an untuned Triton serves the file with on this host: on the GPU where there is one
    and the runner's ONNX Runtime can use it (as a profile run's default), else on the CPU."""
    from tritune.system import hardware, runtime_providers

    gpus = hardware().gpus
    device = choose_device("auto", runtime_providers() if gpus else (), len(gpus))
    return default_serving_config(read_signature(path), max_batch_size, gpu=device.gpu)


@contextlib.contextmanager
def _serve(
    app: App,
    model: str,
    url: str | None,
    serving: ServingConfig | None,
    tritonserver: str | None,
    server_cpus: int | None = None,
    connection: Connection | None = None,
) -> Iterator[tuple[TritonServer, str]]:
    split = server_split(server_cpus, remote=url is not None)
    if connection is not None and url is None:
        raise UsageError("--ssl-* and -H are for a server given by -u/--url (the embedded one is plain HTTP)")
    if url is not None:
        if connection is not None:
            check_files(connection)
        with RemoteTriton(url, connection=connection) as remote:
            yield remote, model
        return
    path = Path(model)
    if not path.is_file():
        raise UsageError(f"{model} is not a file: give an .onnx file, or a model name together with -u HOST:PORT")
    name = check_model_name(default_model_name(path))
    with tempfile.TemporaryDirectory(prefix="tritune-perf-") as repo:
        deploy_onnx(repo, name, path, serving or default_serving(path), share=True)  # a temporary repository
        app.info(f"starting the embedded Triton and loading {name!r} ...")
        if split is not None:
            app.info(split.describe())
        with (
            EmbeddedTriton(
                repo, tritonserver=tritonserver, cpus=split.server if split else None, auto_complete=False
            ) as server,
            ModelControl(server) as control,
        ):
            control.load(name)
            with client_side(split):
                yield server, name


def _loads(
    concurrency_range: str | None,
    rate_range: str | None,
    distribution: str,
    intervals: Path | None,
    batch: int,
) -> list[LoadSpec]:
    chosen = [x for x in (concurrency_range, rate_range, intervals) if x is not None]
    if len(chosen) > 1:
        raise UsageError("give only one of --concurrency-range, --request-rate-range, --request-intervals")
    if intervals is not None:
        return [LoadSpec.intervals(read_intervals_file(intervals), batch)]
    if rate_range is not None:
        dist = Distribution(distribution)
        return [
            LoadSpec.rate(r, batch, dist) for r in parse_range(rate_range, integer=False, option="--request-rate-range")
        ]
    return [
        LoadSpec.concurrency(int(c), batch)
        for c in parse_range(concurrency_range or "1", integer=True, option="--concurrency-range")
    ]


def _table(results: list[PerfResult]) -> Table:
    table = Table(title="tritune perf", show_lines=False)
    first = "Request rate" if results and results[0].load.open_loop else "Concurrency"
    for column in (
        first,
        "infer/sec",
        "avg us",
        "p50 us",
        "p90 us",
        "p95 us",
        "p99 us",
        "queue us",
        "compute us",
        "others' CPU",
        "status",
    ):
        table.add_column(column, justify="right" if column != "status" else "left")
    for r in results:
        c, s = r.client, r.server
        us = 1e-3
        compute = (s.compute_input_ns + s.compute_infer_ns + s.compute_output_ns) * us if s else 0
        status = str(r.status) + (" (client-bound)" if r.client_bound else "")
        status += " (busy host)" if _busy_host(r) else ""
        table.add_row(
            f"{r.load.value:g}",
            f"{r.throughput:.1f}",
            *(
                f"{v * us:.0f}"
                for v in (
                    (c.latency.avg_ns, c.latency.p50_ns, c.latency.p90_ns, c.latency.p95_ns, c.latency.p99_ns)
                    if c
                    else (0, 0, 0, 0, 0)
                )
            ),
            f"{s.queue_ns * us:.0f}" if s else "-",
            f"{compute:.0f}" if s else "-",
            "-" if r.host_other_cpu is None else f"{r.host_other_cpu:.2f}",
            status,
        )
    return table


def _busy_host(result: PerfResult) -> bool:
    return any(is_busy_host_warning(w) for w in result.warnings)


@click.command()
@click.argument("model")
@options.url
@click.option("--concurrency-range", default=None, help="start[:end[:step]] closed-loop concurrency (default 1).")
@click.option("--request-rate-range", default=None, help="start[:end[:step]] open-loop requests/sec.")
@click.option(
    "--request-distribution",
    type=click.Choice([d.value for d in Distribution]),
    default="constant",
    show_default=True,
)
@click.option(
    "--request-intervals",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File of intervals between requests in usec, one per line (looped).",
)
@options.batch_size
@options.shapes
@options.input_data
@options.protocol
@click.option(
    "--shared-memory",
    type=click.Choice(list(SHM_MODES)),
    default="none",
    show_default=True,
    help="system: the inputs in POSIX shared memory the server reads in place, not in each request "
    "(a server on this host; outputs still come back in the responses).",
)
@options.measurement(interval_ms=5000)
@click.option(
    "--measurement-mode",
    type=click.Choice([m.value for m in WindowMode]),
    default="time_windows",
    show_default=True,
)
@click.option("--measurement-request-count", default=50, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--percentile",
    type=click.IntRange(1, 99),
    default=None,
    help="Judge stability and report latency at this percentile instead of the average.",
)
@click.option(
    "--warmup/--no-warmup",
    default=True,
    show_default=True,
    help="Warm-up, part one: before the first measurement, send one request of each batch size the "
    "server can form for the model, once per instance (runtimes pick algorithms per new shape); "
    "its time is printed, what a deployment pays on start. --no-warmup measures a cold model.",
)
@click.option(
    "--warmup-ms",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Warm-up, part two: at the start of every measurement, run its load this long before the first window counts.",
)
@options.workers
@options.max_batch_size
@click.option("--no-dynamic-batching", is_flag=True, help="For an .onnx MODEL: deploy without the dynamic batcher.")
@click.option(
    "-f",
    "--filename",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write perf_analyzer's CSV here.",
)
@click.option("--verbose-csv", is_flag=True, help="Add perf_analyzer's verbose CSV columns.")
@options.as_json
@options.tritonserver
@options.server_cpus
@options.connection
@click.pass_obj
def perf(
    app: App,
    model: str,
    url: str | None,
    concurrency_range: str | None,
    request_rate_range: str | None,
    request_distribution: str,
    request_intervals: Path | None,
    batch_size: int,
    shapes: tuple[str, ...],
    input_data: str,
    protocol: str,
    shared_memory: str,
    measurement_interval: int,
    measurement_mode: str,
    measurement_request_count: int,
    stability_percentage: float,
    max_trials: int,
    percentile: int | None,
    warmup: bool,
    warmup_ms: int,
    workers: int | None,
    max_batch_size: int | None,
    no_dynamic_batching: bool,
    filename: Path | None,
    verbose_csv: bool,
    as_json: bool,
    tritonserver: str | None,
    server_cpus: int | None,
    connection: Connection | None,
) -> None:
    """Measure throughput and latency of MODEL under load, as perf_analyzer does.

    MODEL is an .onnx file (deployed on the embedded Triton) or, with -u, the name of a model
    the running server has loaded."""
    if filename is not None:
        check_writable(filename, "-f", folder=False)
    loads = _loads(concurrency_range, request_rate_range, request_distribution, request_intervals, batch_size)
    options = MeasureOptions(
        protocol=protocol,
        window=WindowSpec(
            mode=WindowMode(measurement_mode),
            window_ns=measurement_interval * 1_000_000,
            request_count=measurement_request_count,
            warmup_ns=warmup_ms * 1_000_000,
        ),
        stability=StabilityCriteria(
            threshold=stability_percentage / 100, max_windows=max_trials, percentile=percentile
        ),
        shapes=parse_shape_options(shapes),
        input_data=input_data,
        shared_memory=shared_memory,
        workers=workers,
    )
    serving = None
    if url is None and (max_batch_size is not None or no_dynamic_batching) and Path(model).is_file():
        base = default_serving(Path(model), max_batch_size or None)
        serving = ServingConfig(
            max_batch_size=base.max_batch_size if max_batch_size is None else max_batch_size,
            instance_kind=base.instance_kind,
            dynamic_batching=None if no_dynamic_batching or max_batch_size == 0 else DynamicBatching(),
        )
    say = app.info if as_json else (lambda line: app.out.print(line, markup=False, highlight=False))
    results: list[PerfResult] = []
    with (
        _serve(app, model, url, serving, tritonserver, server_cpus, connection) as (server, name),
        LoadDriver(server, name, options) as profiler,
    ):
        if warmup:
            warmed = warm_up(server, name, batch_size, options)
            (app.warn if warmed.error else app.info)(warmed.describe())
        for load in loads:
            mode = "Request rate" if load.mode is LoadMode.REQUEST_RATE else "Request concurrency"
            app.info(f"{mode}: {load.value:g} ...")
            result = profiler.measure(load)
            results.append(result)
            for warning in result.warnings:
                app.warn(warning)
            if result.status is not MeasurementStatus.OK:
                app.warn(f"{result.status}: {result.reason}")
            if result.client is not None:
                say(result.summary_line())
            if result.status is MeasurementStatus.FAILED and not server.is_alive():
                break
    if as_json:
        app.out.print_json(json.dumps([to_dict(r) for r in results]))
    else:
        app.err.print(_table(results))
    if filename is not None:  # after the results are on the terminal: a full disk loses none
        try:
            filename.write_text(to_csv(results, verbose_csv))
        except OSError as error:
            if error.errno not in STORAGE_ERRNOS:
                raise
            raise storage_error(filename, error, "give -f a path on another disk") from None
        app.info(f"wrote {filename}")
    if any(r.client_bound for r in results):
        app.warn("some results were limited by the load generator, not the server (see the warnings above)")
    if any(_busy_host(r) for r in results):
        app.warn("other processes took a large share of the CPU during some measurements (see the warnings above)")
    failed = [r for r in results if r.status is MeasurementStatus.FAILED]
    if failed:
        # As perf_analyzer: a sweep with a failed measurement is no result to act on.
        raise InferenceError(f"{len(failed)} of {len(results)} measurements failed: {failed[0].reason}")
