"""The sections of the profile configuration: per-model settings (the served knobs, the client
load, objectives and constraints); how each load point is measured is measurement.py's.

Keys are Model Analyzer's where it has one, so its users can reuse their files; the
measurement keys are perf_analyzer's flag names (``measurement_interval``, ``max_trials``...).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from tritune.domain.backends import (
    CPU_ACCELERATOR,
    CUDA_GRAPHS,
    GPU_ACCELERATOR,
    MODEL_WARMUP,
    NOT_KNOBS,
    PARAMETER_PREFIX,
    UNSET,
    WARMUP_DATA,
    accelerators_value,
    option_text,
)
from tritune.domain.devices import InstanceKind
from tritune.domain.metrics import is_known, known_metrics

_OFF = ("off", "none", "disabled", "false")


class FrozenSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    """A scalar where a list is expected means a one-value list; ``{start, stop, step}`` a range."""
    if isinstance(value, Mapping) and set(value) <= {"start", "stop", "step"} and "start" in value:
        start, stop, step = value["start"], value.get("stop", value["start"]), value.get("step", 1)
        if not all(isinstance(v, int) for v in (start, stop, step)) or step < 1:
            raise ValueError("a range needs integer start, stop and a positive step, e.g. {start: 1, stop: 8}")
        return list(range(start, stop + 1, step))
    if value is None or isinstance(value, list):
        return value
    return [value]


def _check_metric(metric: str) -> str:
    if not is_known(metric):
        close = difflib.get_close_matches(metric, sorted(known_metrics()), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(sorted(known_metrics()))}"
        raise ValueError(f"unknown metric {metric!r}: {hint}")
    return metric


class BoundSpec(FrozenSection):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> BoundSpec:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both, e.g. {max: 100}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}: swap them")
        return self


def objective_weights(value: Any) -> Any:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return {str(m): 1.0 for m in value}
    return value


def known_constraints(value: dict[str, BoundSpec] | None) -> dict[str, BoundSpec] | None:
    for metric in value or {}:
        _check_metric(metric)
    return value


def known_objectives(value: dict[str, float] | None) -> dict[str, float] | None:
    for metric, weight in (value or {}).items():
        _check_metric(metric)
        if weight <= 0:
            raise ValueError(f"weight of {metric!r} is {weight:g}: use a positive number")
    return value


class InstanceGroupSpec(FrozenSection):
    count: list[int] = Field(default=[1], description="instance counts to try")
    kind: list[InstanceKind] = Field(default=[InstanceKind.KIND_CPU], description="instance kinds")

    _lists = field_validator("count", "kind", mode="before")(_as_list)

    @field_validator("count")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(v < 1 for v in value):
            raise ValueError(f"instance counts must be at least 1, got {value}")
        return value


class DynamicBatchingSpec(FrozenSection):
    # "off" (or null) in the list means dynamic batching disabled, so one list covers on and off.
    max_queue_delay_microseconds: list[int | None] = Field(default=[0])
    preferred_batch_size: list[list[int]] = Field(default=[[]])

    @field_validator("max_queue_delay_microseconds", mode="before")
    @classmethod
    def _delays(cls, value: Any) -> Any:
        value = _as_list(value)
        # YAML 1.1 reads a bare `off` as False (and `on` as True).
        return [
            None if v is False or (isinstance(v, str) and v.lower() in _OFF) else 0 if v is True else v
            for v in value or []
        ]

    @field_validator("preferred_batch_size", mode="before")
    @classmethod
    def _preferred(cls, value: Any) -> Any:
        value = _as_list(value)
        # [4, 8] is one preferred list; [[4, 8], [8]] are two alternatives.
        if value and all(isinstance(v, int) for v in value):
            return [value]
        return value


def _accelerator_alternatives(value: Any) -> Any:
    """Model Analyzer's rule for a repeated field: ``[{name: tensorrt}]`` is one list of
    accelerators, ``[[{name: tensorrt}], []]`` two alternatives; each becomes an option value
    (``[]``, null or "none": no accelerator, the backend's default)."""
    if value is None:
        return None
    if isinstance(value, Mapping) or (isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value)):
        value = [value]
    alternatives = value if isinstance(value, list) else [value]
    chosen = []
    for item in alternatives:
        if item is None or item == [] or (isinstance(item, str) and item.lower() in _OFF):
            chosen.append(UNSET)
        else:
            chosen.append(accelerators_value(item if isinstance(item, list) else [item]))
    return chosen


class ExecutionAcceleratorsSpec(FrozenSection):
    """``optimization.execution_accelerators`` alternatives (ONNX Runtime's TensorRT, CUDA, OpenVINO)."""

    gpu_execution_accelerator: list[str] | None = None
    cpu_execution_accelerator: list[str] | None = None

    _alternatives = field_validator("gpu_execution_accelerator", "cpu_execution_accelerator", mode="before")(
        _accelerator_alternatives
    )


class CudaSpec(FrozenSection):
    graphs: list[bool] | None = None

    _lists = field_validator("graphs", mode="before")(_as_list)


class OptimizationSpec(FrozenSection):
    """``optimization`` alternatives, in the model configuration's own field names."""

    execution_accelerators: ExecutionAcceleratorsSpec | None = None
    cuda: CudaSpec | None = None


# Keys added after runs were stored: left out of the dump when unset, so a run's fingerprint
# (a hash of the dumped config) stays what it was for configs that do not use them.
_NEWER_KEYS = ("parameters", "optimization", "model_warmup")


class ModelConfigParameters(FrozenSection):
    """Manual value lists for the served configuration (Model Analyzer's ``model_config_parameters``)."""

    max_batch_size: list[int] | None = None
    instance_group: list[InstanceGroupSpec] | None = None
    dynamic_batching: DynamicBatchingSpec | None = None
    execution_providers: list[list[str]] | None = None
    intra_op_threads: list[int] | None = None
    inter_op_threads: list[int] | None = None
    precision: list[str] | None = None
    # The model's backend knobs (docs/backends.md): ``parameters: {KEY: [v1, v2]}`` (or MA's
    # ``{KEY: {string_value: [...]}}``), ``optimization`` and ``model_warmup`` alternatives.
    parameters: dict[str, list[str]] | None = None
    optimization: OptimizationSpec | None = None
    model_warmup: list[str] | None = None

    _lists = field_validator("max_batch_size", "intra_op_threads", "inter_op_threads", "precision", mode="before")(
        _as_list
    )

    @model_serializer(mode="wrap")
    def _leave_out_unset_newer_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in _NEWER_KEYS:
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameters(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ValueError("parameters maps each key to its values, e.g. {intra_op_thread_count: [1, 2]}")
        lists: dict[str, list[str]] = {}
        for key, values in value.items():
            if key in NOT_KNOBS:
                raise ValueError(f"parameter {key!r} sets where the model runs from, not a serving knob: leave it out")
            if isinstance(values, Mapping) and "string_value" in values:
                values = values["string_value"]
            lists[str(key)] = [option_text(v) for v in _as_list(values) or []]
        return lists

    @field_validator("model_warmup", mode="before")
    @classmethod
    def _warmup(cls, value: Any) -> Any:
        # off (no warmup) or the data of one batch-1 sample per input: zero_data / random_data.
        chosen = []
        for item in _as_list(value) or []:
            text = "off" if item is False else "zero_data" if item is True else str(item).lower()
            text = {"zero": "zero_data", "random": "random_data"}.get(text, text)
            if text not in (*_OFF, *WARMUP_DATA):
                raise ValueError(f"model_warmup takes off, zero_data or random_data, got {item!r}")
            chosen.append(UNSET if text in _OFF else text)
        return chosen or None

    def backend_lists(self) -> dict[str, tuple[str, ...]]:
        """The manual value lists for backend options, by option key (domain/backends.py)."""
        lists: dict[str, tuple[str, ...]] = {
            PARAMETER_PREFIX + key: tuple(values) for key, values in (self.parameters or {}).items() if values
        }
        accelerators = self.optimization.execution_accelerators if self.optimization else None
        if accelerators and accelerators.gpu_execution_accelerator:
            lists[GPU_ACCELERATOR] = tuple(accelerators.gpu_execution_accelerator)
        if accelerators and accelerators.cpu_execution_accelerator:
            lists[CPU_ACCELERATOR] = tuple(accelerators.cpu_execution_accelerator)
        cuda = self.optimization.cuda if self.optimization else None
        if cuda and cuda.graphs:
            lists[CUDA_GRAPHS] = tuple(option_text(v) for v in cuda.graphs)
        if self.model_warmup:
            lists[MODEL_WARMUP] = tuple(self.model_warmup)
        return lists

    @field_validator("instance_group", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        # Model Analyzer nests a list of groups inside a list of alternatives: flatten both.
        value = _as_list(value)
        flat: list[Any] = []
        for item in value or []:
            flat += item if isinstance(item, list) else [item]
        return flat

    @field_validator("dynamic_batching", mode="before")
    @classmethod
    def _batching(cls, value: Any) -> Any:
        if value is False or (isinstance(value, str) and value.lower() in _OFF):
            return {"max_queue_delay_microseconds": [None]}
        if value is True or value == {}:
            return {}
        return value

    @field_validator("execution_providers", mode="before")
    @classmethod
    def _providers(cls, value: Any) -> Any:
        # "CUDAExecutionProvider,CPUExecutionProvider" is one provider list (in priority order).
        value = _as_list(value)
        if value is None:
            return None
        return [v.split(",") if isinstance(v, str) else v for v in value]


class LoadParameters(FrozenSection):
    """The client load: Model Analyzer's ``parameters`` (manual lists or ``{start, stop, step}``)."""

    concurrency: list[int] | None = None
    request_rate: list[float] | None = None
    batch_sizes: list[int] | None = None

    _lists = field_validator("concurrency", "request_rate", "batch_sizes", mode="before")(_as_list)

    @model_validator(mode="after")
    def _one_load_kind(self) -> LoadParameters:
        if self.concurrency and self.request_rate:
            raise ValueError("give concurrency or request_rate, not both (one load mode per run)")
        for name in ("concurrency", "request_rate", "batch_sizes"):
            if any(v <= 0 for v in getattr(self, name) or []):
                raise ValueError(f"{name} values must be positive, got {getattr(self, name)}")
        return self


class ModelSettings(FrozenSection):
    """Per-model settings under ``profile_models``; objectives and constraints override the global ones."""

    model_path: str | None = None
    model_config_parameters: ModelConfigParameters | None = None
    parameters: LoadParameters = LoadParameters()
    objectives: dict[str, float] | None = None
    constraints: dict[str, BoundSpec] | None = None
    cpu_only: bool = False
    # Model Analyzer's key: with run_config_profile_models_concurrently_enable, this model's
    # throughput counts this many times in the objective (None: once).
    weighting: float | None = Field(default=None, gt=0)

    _objectives = field_validator("objectives", mode="before")(objective_weights)
    _objective_names = field_validator("objectives")(known_objectives)
    _constraint_names = field_validator("constraints")(known_constraints)

    @model_serializer(mode="wrap")
    def _leave_out_unset_weighting(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Added after runs were stored: left out when unset, so their fingerprints stay as they were.
        data: dict[str, Any] = handler(self)
        if data.get("weighting", 0) is None:
            data.pop("weighting")
        return data
