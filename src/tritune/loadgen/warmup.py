"""Warming a freshly loaded model up before its first measurement (IO).

The plan (``warmup_plan``) comes from the model's config as the server loaded it; the requests
are the load generator's own (``LoadDriver.build_target``: the shapes ``--shape`` and the input
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

from tritune.errors import TrituneError
from tritune.loadgen.driver import LoadDriver, _run_coroutine
from tritune.loadgen.payload import RequestTarget
from tritune.loadgen.request import make_request_fn
from tritune.loadgen.spec import MeasureOptions
from tritune.loadgen.warmup_plan import WarmupPlan, plan_from_config
from tritune.triton.server import TritonServer


@dataclass(frozen=True)
class Warmup:
    """What warming one model up took: the plan, the requests that answered, the seconds spent
    sending them, and why it stopped early (a one-line reason) if it did."""

    plan: WarmupPlan
    sent: int
    seconds: float
    error: str | None = None

    def describe(self) -> str:
        sizes = ", ".join(str(b) for b in self.plan.batch_sizes)
        per = f" x {self.plan.repeats} instances" if self.plan.repeats > 1 else ""
        text = f"warm-up {self.seconds:.2f} s ({self.sent} requests: batch {sizes}{per})"
        return f"{text}; {self.error}" if self.error else text


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
        config = server.endpoints.api(timeout_s=10.0).model_config(model)
        plan = plan_from_config(config, client_batch_size)
        with LoadDriver(server, model, options) as driver:
            targets = [(b, driver.build_target(b)) for b in plan.batch_sizes]
            # Sent while the driver is open: its shared-memory inputs close with it.
            sent, seconds, reason = _run_coroutine(lambda: _send(targets, plan.repeats))
    except TrituneError as error:
        return Warmup(plan, 0, 0.0, f"warm-up not sent: {error.message}")
    return Warmup(plan, sent, seconds, reason)


def make_warmup_fn(server: TritonServer, options: MeasureOptions | None = None) -> WarmupFn:
    """The run's ``WarmupFn``: the model is read from the server each time (a variant reloaded
    under the same name may batch differently)."""
    return lambda model, client_batch_size: warm_up(server, model, client_batch_size, options)
