"""Warming a freshly loaded model up before its first measurement (IO).

The plan (``domain/warmup_plan``) comes from the model's config as the server loaded it. The
batch sizes Triton already ran as it loaded the model (the ``model_warmup`` samples tritune
writes into its runner's configs: every instance at once) are not sent again; the rest are the
load generator's own requests (``LoadDriver.build_target``: the shapes ``--shape`` and the input
data give), sent one at a time, so each reaches the server alone and runs as the batch it is.
Only the sending is timed: that is what a deployment pays on start (building random inputs is
the client's cost, not the server's).

This is the first of two warm-ups, one concept: the other (``WindowSpec.warmup_ns``, perf's
``--warmup-ms``) runs the measured load itself for a while before every measurement's first
window, to let queues and caches settle at that load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tritune.domain.warmup_plan import WarmupPlan, plan_from_config, server_warmup_sizes
from tritune.errors import TrituneError
from tritune.loadgen.driver import LoadDriver, _run_coroutine
from tritune.loadgen.payload import RequestTarget
from tritune.loadgen.request import make_request_fn
from tritune.loadgen.server_stats import parse_model_stats
from tritune.loadgen.spec import MeasureOptions
from tritune.triton.http_api import TritonHttp
from tritune.triton.server import TritonServer


@dataclass(frozen=True)
class Warmup:
    """What warming one model up took: the plan, the requests that answered, the seconds spent
    sending them, and why it stopped early (a one-line reason) if it did; ``by_server``: the
    plan's batch sizes Triton ran as it loaded the model (their time is in the load's)."""

    plan: WarmupPlan
    sent: int
    seconds: float
    error: str | None = None
    by_server: tuple[int, ...] = ()

    def describe(self) -> str:
        sent = self.plan.without(self.by_server).batch_sizes
        text = f"warm-up {self.seconds:.2f} s ("
        if self.by_server:
            at_once = f", {self.plan.instances} instances at once" if self.plan.instances > 1 else ""
            text += f"by Triton as it loaded: batch {_sizes(self.by_server)}{at_once}"
        if sent or not self.by_server:
            per = f" x {self.plan.repeats} instances" if self.plan.repeats > 1 else ""
            text += "; then " if self.by_server else ""
            text += f"{self.sent} requests: batch {_sizes(sent)}{per}"
        text += ")"
        return f"{text}; {self.error}" if self.error else text


def _sizes(sizes: tuple[int, ...]) -> str:
    return ", ".join(str(b) for b in sizes)


WarmupFn = Callable[[str, int], Warmup]
"""Warm the loaded model ``name`` up for a client sending batches of the given size."""


async def _send(targets: list[tuple[int, RequestTarget]], repeats: int) -> tuple[int, float, str | None]:
    """Each target's requests ``repeats`` times, one at a time: (answered, seconds, first error)."""
    sent = 0
    started = time.perf_counter()
    for batch_size, target in targets:
        request = make_request_fn(target)
        try:
            for _ in range(repeats * len(target.payloads)):
                result = await request()
                if result.error is not None:
                    reason = f"warm-up at batch {batch_size} failed: {result.error}: {result.message}"
                    return sent, time.perf_counter() - started, reason
                sent += 1
        finally:
            await request.aclose()
    return sent, time.perf_counter() - started, None


def warm_up(
    server: TritonServer, model: str, client_batch_size: int = 1, options: MeasureOptions | None = None
) -> Warmup:
    """Send the warm-up of ``model`` (loaded on ``server``); a failure is returned, never raised."""
    plan = WarmupPlan(())
    try:
        api = server.endpoints.api(timeout_s=10.0)
        config = api.model_config(model)
        plan = plan_from_config(config, client_batch_size)
        left = plan.without(server_warmup_sizes(config))
        by_server = tuple(b for b in plan.batch_sizes if b not in left.batch_sizes)
        by_server_s = _server_warmup_seconds(api, model, plan.instances) if by_server else 0.0
        if not left.batch_sizes:
            return Warmup(plan, 0, by_server_s, by_server=by_server)
        with LoadDriver(server, model, options) as driver:
            targets = [(b, driver.build_target(b)) for b in left.batch_sizes]
            # Sent while the driver is open: its shared-memory inputs close with it.
            sent, seconds, reason = _run_coroutine(lambda: _send(targets, left.repeats))
    except TrituneError as error:
        return Warmup(plan, 0, 0.0, f"warm-up not sent: {error.message}")
    return Warmup(plan, sent, by_server_s + seconds, reason, by_server)


def _server_warmup_seconds(api: TritonHttp, model: str, instances: int) -> float:
    """What Triton's warm-up took, from its statistics of the freshly loaded model (it counts the
    warm-up's requests as any others): the requests' summed time over the instances that ran
    them at once."""
    snapshot = parse_model_stats(api.statistics(model), model)
    if snapshot is None:
        return 0.0
    _, total_ns = snapshot.counters.get("success", (0, 0))
    return total_ns / 1e9 / max(instances, 1)


def make_warmup_fn(server: TritonServer, options: MeasureOptions | None = None) -> WarmupFn:
    """The run's ``WarmupFn``: the model is read from the server each time (a variant reloaded
    under the same name may batch differently)."""
    return lambda model, client_batch_size: warm_up(server, model, client_batch_size, options)
