"""How each load point is measured (the load generator's windows and stability rule, perf_analyzer's
flag names: ``measurement_interval``, ``max_trials``...) and how the finalists are confirmed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from tritune.config.sections import FrozenSection
from tritune.errors import UsageError
from tritune.inputs import parse_shape_options


class MeasurementSettings(FrozenSection):
    """How each load point is measured: the load generator's window and stability rule."""

    protocol: Literal["grpc", "http"] = Field(
        default="http", description="HTTP (the default) costs the load generator less CPU per request than gRPC"
    )
    shared_memory: Literal["none", "system"] = Field(
        default="none",
        description="system: the inputs in POSIX shared memory the server reads in place, not in each "
        "request (perf_analyzer's --shared-memory; a server on this host)",
    )
    measurement_mode: Literal["count_windows", "time_windows"] = Field(
        default="count_windows",
        description="count_windows: a window closes once enough requests completed (sized to the load: "
        "a fast model is measured in a fraction of a second, a slow one in whole windows); time_windows: "
        "every window lasts measurement_interval",
    )
    measurement_interval: int = Field(
        default=250, ge=50, description="time windows: the window (ms); count windows: the shortest window"
    )
    measurement_request_count: int = Field(
        default=0,
        ge=0,
        description="count windows: the requests that close a window (0: sized to the load, "
        "8 per request in flight, at least 20)",
    )
    stability_percentage: float = Field(
        default=10.0, ge=0.1, description="the last 3 windows within this percentage count as stable"
    )
    max_trials: int = Field(default=10, ge=3, description="most windows per measurement (then it is unstable)")
    shape: dict[str, tuple[int, ...]] = Field(
        default={},
        description="NAME:D1,D2 for dynamic dims, batch dim left out (repeatable)",
        json_schema_extra={"repeatable": True},
    )
    server_cpus: int | None = Field(
        default=None,
        description="pin the embedded server to the first N cores and the load generator to the rest "
        "(steadier numbers on a small host; part of the run's identity)",
    )
    warmup: bool = Field(
        default=True,
        description="send each loaded variant one request of each batch size it can form before its "
        "first measurement (timed and reported: what a deployment pays on start); off measures a cold model",
    )

    @field_validator("shape", mode="before")
    @classmethod
    def _shapes(cls, value: Any) -> Any:
        # perf_analyzer's "NAME:D1,D2" strings (the flag, or a YAML list of them), or a mapping.
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            try:
                return parse_shape_options([str(v) for v in value])
            except UsageError as error:
                raise ValueError(error.message) from None
        return value


class ConfirmSettings(FrozenSection):
    """The confirm step after the search: the finalists re-measured, interleaved, at the winner's
    load point. Not part of a run's identity: a rerun with more rounds resumes and adds them."""

    rounds: int = Field(
        default=2, ge=0, description="confirm rounds every finalist still racing gets at least (0: no confirm step)"
    )
    max_rounds: int = Field(default=6, ge=1, description="most confirm rounds while the leader overlaps another")
    budget_s: float = Field(
        default=180.0,
        gt=0,
        description="seconds the confirm step may take: no round starts past it (the first always runs)",
        json_schema_extra={"flag": "budget"},
    )
