"""What a measurement came to: ``PerfResult`` (client summary, server breakdown, metrics,
memory) and the verdict on it, a pure function of what was measured.

``judge`` decides the stored status, the reason, whether the load generator rather than the
server set the pace, and the warnings, from the outputs alone (the stability controller's
outcome, the client summary, whether the server outlived the run), so every rule is unit-tested
without a server. ``PerfResult.to_measurement`` writes the names of ``tritune.domain.metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tritune.domain.host_load import OtherProcess, busy_host_warning
from tritune.domain.measurement import Measurement
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
    LATENCY_STD,
    SERVER_COMPUTE_INFER,
    SERVER_COMPUTE_INPUT,
    SERVER_COMPUTE_OUTPUT,
    SERVER_QUEUE,
    SERVER_REQUEST,
    THROUGHPUT,
    THROUGHPUT_SPREAD,
    combine,
    metric,
    step_metric,
)
from tritune.domain.names import step_label
from tritune.domain.server_load import other_clients_warning
from tritune.domain.status import MeasurementStatus, Stability
from tritune.loadgen.server_stats import ServerBreakdown, step_times_ns
from tritune.loadgen.spec import LoadSpec
from tritune.loadgen.stats import ClientSummary
from tritune.monitor.memory import ModelMemory
from tritune.monitor.metrics import MetricsSummary

# The busiest worker's event-loop thread above this share of a core: it, not the server,
# sets the pace (a Python event loop is single-threaded).
CLIENT_CPU_BOUND = 0.90
# perf_analyzer warns when more than 1 % of rate-mode requests are delayed.
LATE_FRACTION_BOUND = 0.01
# More failed requests than this share make the measurement FAILED (fewer: a warning).
FAILED_FRACTION_BOUND = 0.01


# Fewer model executions than this per window: one batch more or less moves a window's count by
# a tenth or more, perf_analyzer's stability threshold, so such a measurement may run unstable
# to the last window (docs/benchmarks.md: MiniLM at short windows).
FEW_BATCHES_PER_WINDOW = 10


def few_batches_hint(executions: int, windows: int, window_ms: float) -> str | None:
    """Why an unstable measurement may be its window's fault, with the fix: its windows held few
    of the model's executions (batches), whose completions arrive together. None otherwise."""
    if windows <= 0 or executions <= 0:
        return None
    per_window = executions / windows
    if per_window >= FEW_BATCHES_PER_WINDOW:
        return None
    return (
        f"its {window_ms:g} ms windows held about {per_window:.0f} batches each, and one batch more or less "
        f"moves a window's throughput by {100 / per_window:.0f} %: give a longer --measurement-interval"
    )


@dataclass(frozen=True)
class MeasurementVerdict:
    status: MeasurementStatus
    reason: str = ""
    client_bound: bool = False  # the load generator, not the server, limited the result
    warnings: tuple[str, ...] = ()


def judge(
    stability: Stability,
    stability_reason: str,
    client: ClientSummary | None,
    *,
    open_loop: bool,
    server_alive: bool = True,
    failure: str = "",
    host_other_cpu: float | None = None,
    host_cores: int = 0,
    host_busiest: Sequence[OtherProcess] = (),
    host_stolen: float = 0.0,
    server_requests: int | None = None,
) -> MeasurementVerdict:
    """The verdict on one measurement.

    ``stability``/``stability_reason``: where the window controller ended; ``client``: the
    summary of the kept windows (None when none was kept); ``failure``: why the load itself
    broke off (a worker died), empty when it ran to the end; ``host_other_cpu``: the cores
    other processes took of the ``host_cores`` tritune and the server run on (None: not watched),
    ``host_busiest`` the busiest of them, named in the warning, ``host_stolen`` the part of it
    the hypervisor gave to other virtual machines; ``server_requests``: the requests the server
    finished for the model over the kept windows (None: not known), more than the client's own
    when another client loaded it.
    """
    warnings: list[str] = []
    status = {
        Stability.STABLE: MeasurementStatus.OK,
        Stability.UNSTABLE: MeasurementStatus.UNSTABLE,
    }.get(stability, MeasurementStatus.FAILED)
    reason = failure or stability_reason
    if status is MeasurementStatus.OK and stability_reason:
        warnings.append(stability_reason)  # stable throughput, latency not stabilizing
        reason = ""
    if not server_alive:
        status = MeasurementStatus.FAILED
        reason = f"the Triton server died during the measurement ({reason or 'no reason given'}): see its log"
    client_bound = False
    if client is not None:
        if client.failed:
            share = client.failed / (client.failed + client.completed)
            kinds = ", ".join(f"{k} x{n}" for k, n in sorted(client.errors.items()))
            example = next(iter(client.error_examples.values()), "")
            text = f"{client.failed} requests failed ({kinds}): {example}"
            if share > FAILED_FRACTION_BOUND and status is not MeasurementStatus.FAILED:
                status, reason = MeasurementStatus.FAILED, text
            else:
                warnings.append(text)
        if client.worker_cpu_fraction_max >= CLIENT_CPU_BOUND:
            client_bound = True
            warnings.append(
                f"the load generator is the bottleneck: its busiest worker used "
                f"{client.worker_cpu_fraction_max:.0%} of a core; "
                "use more --workers or a faster client host"
            )
        if open_loop and client.late_fraction > LATE_FRACTION_BOUND:
            client_bound = True
            warnings.append(
                f"not able to keep up with the schedule: {client.late} of {client.sent} requests "
                f"({client.late_fraction:.1%}) were sent late "
                f"(worst {client.lateness_max_ns / 1e6:.1f} ms)"
            )
    busy = busy_host_warning(host_other_cpu, host_cores, host_busiest, host_stolen)
    if busy is not None:
        warnings.append(busy)
    shared = other_clients_warning(server_requests, client.completed) if client is not None else None
    if shared is not None:
        warnings.append(shared)
    return MeasurementVerdict(status, reason, client_bound, tuple(warnings))


@dataclass(frozen=True)
class WindowBrief:
    throughput: float
    avg_latency_ns: float
    completed: int
    failed: int


@dataclass(frozen=True)
class PerfResult:
    model: str
    load: LoadSpec
    status: MeasurementStatus
    reason: str = ""
    client: ClientSummary | None = None
    windows: tuple[WindowBrief, ...] = ()  # every window, in order
    kept_windows: int = 0  # how many of the last windows were merged into ``client``
    server: ServerBreakdown | None = None
    metrics: MetricsSummary | None = None
    memory: ModelMemory | None = None
    client_bound: bool = False
    warnings: tuple[str, ...] = ()
    workers: int = 1
    percentile: int | None = None  # the latency stability and the summary line use
    host_other_cpu: float | None = None  # cores other processes took (see domain.host_load)
    steps: tuple[tuple[str, ServerBreakdown], ...] = ()  # an ensemble's composing models', as served

    @property
    def stable(self) -> bool:
        return self.status is MeasurementStatus.OK

    @property
    def throughput(self) -> float:
        return self.client.throughput if self.client else 0.0

    def latency_us(self) -> float:
        """perf_analyzer's reported latency: the average, or pXX with --percentile."""
        if self.client is None:
            return 0.0
        if self.percentile is None:
            return self.client.latency.avg_ns / 1000
        return self.client.latency.percentile_ns(self.percentile) / 1000

    def summary_line(self) -> str:
        throughput, latency = f"{self.throughput:.6g}", f"{self.latency_us():.0f}"
        return f"{self.load.label()}, throughput: {throughput} infer/sec, latency {latency} usec"

    def to_measurement(self) -> Measurement:
        return Measurement(
            load=self.load.to_point(),
            status=self.status,
            metrics=in_table_units(self._base_metrics()),
            error=self.reason or None,
            client_bound=self.client_bound,
            warnings=self.warnings,
        )

    def _base_metrics(self) -> dict[str, float]:
        """Each metric under its table name, in base units: ns, bytes, a share of 1."""
        values: dict[str, float] = {}
        client, server, memory, gauges = self.client, self.server, self.memory, self.metrics
        if client is not None and client.completed:
            latency = client.latency
            values.update(
                {
                    THROUGHPUT: client.throughput,
                    LATENCY_AVG: latency.avg_ns,
                    LATENCY_STD: latency.std_ns,
                    LATENCY_P50: latency.p50_ns,
                    LATENCY_P90: latency.p90_ns,
                    LATENCY_P95: latency.p95_ns,
                    LATENCY_P99: latency.p99_ns,
                    CLIENT_SEND_RECV: client.avg_send_ns + client.avg_recv_ns,
                }
            )
            spread = window_spread([w.throughput for w in self.windows[len(self.windows) - self.kept_windows :]])
            if spread is not None:
                values[THROUGHPUT_SPREAD] = spread
        if server is not None and server.requests:
            values.update(
                {
                    SERVER_QUEUE: server.queue_ns,
                    SERVER_COMPUTE_INPUT: server.compute_input_ns,
                    SERVER_COMPUTE_INFER: server.compute_infer_ns,
                    SERVER_COMPUTE_OUTPUT: server.compute_output_ns,
                }
            )
        # The stubs' own memory when tritune owns the server; the host-wide gauge otherwise.
        if memory is not None:
            values[CPU_USED_RAM] = memory.rss_bytes
            if memory.gpu_bytes is not None:
                values[GPU_USED_MEMORY] = memory.gpu_bytes
        elif gauges is not None and gauges.cpu_memory_used_bytes is not None:
            values[CPU_USED_RAM] = gauges.cpu_memory_used_bytes
        if gauges is not None and gauges.has_gpu:
            # One reading per GPU, made one by the metric table's rule (the mean utilization,
            # the summed power and memory).
            per_gpu = {
                GPU_UTILIZATION: gauges.gpu_utilization,
                GPU_POWER_USAGE: gauges.gpu_power_usage,
                GPU_USED_MEMORY: gauges.gpu_memory_used_bytes,
            }
            for name, readings in per_gpu.items():
                if readings and name not in values:
                    values[name] = combine(name, list(readings.values()))
        if self.host_other_cpu is not None:
            values[HOST_OTHER_CPU] = self.host_other_cpu
        if server is not None and server.requests and self.steps:
            # An ensemble: its whole server time per request and each step's share of it, the
            # step named as in the user's ensemble (a variant serves it under its own name).
            values[SERVER_REQUEST] = server.request_ns
            for (served, part), ns in step_times_ns(server, self.steps).items():
                values[step_metric(step_label(self.model, served), part)] = ns
        return values


# Base unit -> the metric table's unit: ns -> ms, bytes -> MB, a share of 1 -> percent.
_FROM_BASE = {"ms": 1e-6, "MB": 1e-6, "%": 100.0}


def window_spread(throughputs: Sequence[float]) -> float | None:
    """(max - min) / mean of the kept windows' throughputs, a share of 1; None under two windows."""
    if len(throughputs) < 2 or not any(throughputs):
        return None
    return (max(throughputs) - min(throughputs)) / (sum(throughputs) / len(throughputs))


def in_table_units(values: Mapping[str, float]) -> dict[str, float]:
    """Convert into each metric's unit in ``tritune.domain.metrics`` (which also refuses a name
    the table does not know, so loadgen cannot write a metric nobody reads)."""
    return {name: value * _FROM_BASE.get(metric(name).unit, 1.0) for name, value in values.items()}
