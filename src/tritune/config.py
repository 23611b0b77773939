"""The profile configuration: YAML file + CLI overrides, validated once, then frozen.

Keys are Model Analyzer's where it has one (``profile_models``, ``objectives``,
``constraints``, ``run_config_search_*``, ``latency_budget``, ``min_throughput``,
``num_configs_per_model``, ``optuna_*``, ``export_path``), so its users can reuse their files.
Each field is declared once; its CLI flag is derived from the name (``--latency-budget``), see
:func:`cli_flags`. Every problem is reported as one line naming the key and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tritune.analysis.constraints import Bound, Constraints
from tritune.analysis.objectives import DEFAULT_OBJECTIVES, Objectives
from tritune.domain.metrics import is_known, known_metrics
from tritune.errors import UsageError

SearchMode = Literal["default", "brute", "quick", "optuna"]
_OFF = ("off", "none", "disabled", "false")


class _Frozen(BaseModel):
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


class BoundSpec(_Frozen):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> BoundSpec:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both, e.g. {max: 100}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}: swap them")
        return self


def _objectives(value: Any) -> Any:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return {str(m): 1.0 for m in value}
    return value


def _constraint_metrics(value: dict[str, BoundSpec] | None) -> dict[str, BoundSpec] | None:
    for metric in value or {}:
        _check_metric(metric)
    return value


def _objective_metrics(value: dict[str, float] | None) -> dict[str, float] | None:
    for metric, weight in (value or {}).items():
        _check_metric(metric)
        if weight <= 0:
            raise ValueError(f"weight of {metric!r} is {weight:g}: use a positive number")
    return value


class InstanceGroupSpec(_Frozen):
    count: list[int] = Field(default=[1], description="instance counts to try")
    kind: list[Literal["KIND_CPU", "KIND_GPU"]] = Field(default=["KIND_CPU"], description="instance kinds")

    _lists = field_validator("count", "kind", mode="before")(_as_list)

    @field_validator("count")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(v < 1 for v in value):
            raise ValueError(f"instance counts must be at least 1, got {value}")
        return value


class DynamicBatchingSpec(_Frozen):
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


class ModelConfigParameters(_Frozen):
    """Manual value lists for the served configuration (Model Analyzer's ``model_config_parameters``)."""

    max_batch_size: list[int] | None = None
    instance_group: list[InstanceGroupSpec] | None = None
    dynamic_batching: DynamicBatchingSpec | None = None
    execution_providers: list[list[str]] | None = None
    intra_op_threads: list[int] | None = None
    inter_op_threads: list[int] | None = None
    precision: list[str] | None = None

    _lists = field_validator("max_batch_size", "intra_op_threads", "inter_op_threads", "precision", mode="before")(
        _as_list
    )

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


class LoadParameters(_Frozen):
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


class ModelSettings(_Frozen):
    """Per-model settings under ``profile_models``; objectives and constraints override the global ones."""

    model_path: str | None = None
    model_config_parameters: ModelConfigParameters | None = None
    parameters: LoadParameters = LoadParameters()
    objectives: dict[str, float] | None = None
    constraints: dict[str, BoundSpec] | None = None
    cpu_only: bool = False

    _objectives = field_validator("objectives", mode="before")(_objectives)
    _objective_names = field_validator("objectives")(_objective_metrics)
    _constraint_names = field_validator("constraints")(_constraint_metrics)


class ProfileConfig(_Frozen):
    """Everything ``tritune profile`` needs to know, validated and frozen."""

    profile_models: dict[str, ModelSettings] = Field(
        description="models to profile: a name/path, a comma list, a list, or a map to per-model settings"
    )
    objectives: dict[str, float] = Field(
        default=dict(DEFAULT_OBJECTIVES), description="metric -> weight (or a list of metrics)"
    )
    constraints: dict[str, BoundSpec] = Field(default={}, description="metric -> {min, max}")
    latency_budget: float | None = Field(default=None, gt=0, description="shortcut: perf_latency_p99 max (ms)")
    min_throughput: float | None = Field(default=None, gt=0, description="shortcut: perf_throughput min")
    mode: Literal["online", "offline"] = Field(default="online", description="which plots the report leads with")
    run_config_search_mode: SearchMode = Field(default="default", description="default, brute, quick or optuna")
    run_config_search_disable: bool = Field(default=False, description="measure only manual lists / the default")
    run_config_search_min_instance_count: int = Field(default=1, ge=1, description="automatic search bound")
    run_config_search_max_instance_count: int = Field(default=5, ge=1, description="automatic search bound")
    run_config_search_min_model_batch_size: int = Field(default=1, ge=1, description="automatic search bound")
    run_config_search_max_model_batch_size: int = Field(default=128, ge=1, description="automatic search bound")
    run_config_search_min_concurrency: int = Field(default=1, ge=1, description="load sweep bound")
    run_config_search_max_concurrency: int = Field(default=1024, ge=1, description="load sweep bound")
    run_config_search_min_request_rate: float = Field(default=16, gt=0, description="load sweep bound")
    run_config_search_max_request_rate: float = Field(default=8192, gt=0, description="load sweep bound")
    run_config_search_max_binary_search_steps: int = Field(default=5, ge=0, description="steps to the budget")
    request_rate_search_enable: bool = Field(default=False, description="sweep request rate, not concurrency")
    optuna_min_trials: int = Field(default=20, ge=1, description="optuna mode: fewest configurations")
    optuna_max_trials: int = Field(default=60, ge=1, description="optuna mode: most configurations")
    optuna_early_exit_threshold: int = Field(default=10, ge=1, description="stop after N trials without gain")
    num_configs_per_model: int = Field(default=3, ge=0, description="top configurations to refine and report")
    export_path: Path = Field(default=Path("."), description="where results and reports go")
    seed: int = Field(default=0, description="seed of every randomized searcher (stored for resume)")

    _objectives = field_validator("objectives", mode="before")(_objectives)
    _objective_names = field_validator("objectives")(_objective_metrics)
    _constraint_names = field_validator("constraints")(_constraint_metrics)

    @field_validator("profile_models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            models: dict[str, Any] = {}
            for item in value:
                if isinstance(item, Mapping):
                    models.update(item)
                else:
                    models[str(item)] = {}
            value = models
        if isinstance(value, Mapping):
            value = {k: ({} if v is None else v) for k, v in value.items()}
            if not value:
                raise ValueError("no model given: name at least one, e.g. profile_models: [my_model]")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> ProfileConfig:
        for low, high in (
            ("run_config_search_min_instance_count", "run_config_search_max_instance_count"),
            ("run_config_search_min_model_batch_size", "run_config_search_max_model_batch_size"),
            ("run_config_search_min_concurrency", "run_config_search_max_concurrency"),
            ("run_config_search_min_request_rate", "run_config_search_max_request_rate"),
            ("optuna_min_trials", "optuna_max_trials"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"{low} ({getattr(self, low):g}) is above {high} ({getattr(self, high):g}): lower {low} "
                    f"or raise {high}"
                )
        return self

    # -- effective settings per model ------------------------------------------------------------
    def objectives_for(self, model: str) -> Objectives:
        return Objectives.of(self.profile_models[model].objectives or self.objectives)

    def constraints_for(self, model: str) -> Constraints:
        """Per-model constraints replace global ones metric by metric; the shortcuts win last
        (they usually come from the command line, which is the most specific place)."""
        merged = dict(self.constraints) | dict(self.profile_models[model].constraints or {})
        bounds = {m: (b.min, b.max) for m, b in merged.items()}
        if self.latency_budget is not None:
            bounds["perf_latency_p99"] = (
                bounds.get("perf_latency_p99", (None, None))[0],
                self.latency_budget,
            )
        if self.min_throughput is not None:
            bounds["perf_throughput"] = (self.min_throughput, bounds.get("perf_throughput", (None, None))[1])
        return Constraints(tuple(Bound(m, lo, hi) for m, (lo, hi) in bounds.items()))


# -- loading ---------------------------------------------------------------------------------------
def load_profile_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> ProfileConfig:
    """Read the YAML file (if any), apply CLI overrides (top-level keys; None means "not given").

    Raises:
        UsageError: the file is missing or not YAML, or the settings are invalid. The message
            has one line per problem, each naming the key and the fix.
    """
    data: dict[str, Any] = {}
    source = "command line"
    if path is not None:
        source = str(path)
        data = _read_yaml(Path(path))
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key.replace("-", "_")] = value
    return parse_profile_config(data, source=source)


def parse_profile_config(data: Mapping[str, Any], *, source: str = "config") -> ProfileConfig:
    try:
        return ProfileConfig.model_validate(dict(data))
    except ValidationError as error:
        lines = [f"{source}: {line}" for line in _error_lines(error)]
        raise UsageError(lines[0] if len(lines) == 1 else "\n".join(lines)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"config file {path} does not exist: check the path given to --config-file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or "syntax error"
        raise UsageError(f"{where}: not valid YAML ({problem}): fix the syntax there") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: the top level must be a mapping of keys (e.g. 'profile_models: [my_model]'), "
            f"not a {type(data).__name__}"
        )
    return data


def _error_lines(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        # Union branches and validator tags appear in loc; users only know the YAML keys.
        loc = [str(p) for p in item["loc"] if not (isinstance(p, str) and ("[" in p or "-" in p))]
        key = ".".join(loc)
        kind, message = item["type"], item["msg"]
        if kind == "extra_forbidden":
            lines.append(_unknown_key(loc))
            continue
        if kind == "missing":
            lines.append(f"{key} is required: add it (e.g. 'profile_models: [my_model]')")
            continue
        message = message.removeprefix("Value error, ")
        if kind in ("value_error", "assertion_error"):
            lines.append(f"{key}: {message}" if key else message)
        else:
            lines.append(f"{key}: {message[0].lower()}{message[1:]}, got {item.get('input')!r}")
    return lines


def _unknown_key(loc: list[str]) -> str:
    # Walk the key path to the model that owns the unknown key, to suggest its nearest field.
    owners: dict[str, type[BaseModel]] = {
        "profile_models": ModelSettings,
        "model_config_parameters": ModelConfigParameters,
        "parameters": LoadParameters,
        "dynamic_batching": DynamicBatchingSpec,
        "instance_group": InstanceGroupSpec,
        "constraints": BoundSpec,
    }
    model: type[BaseModel] = ProfileConfig
    for part in loc[:-1]:
        model = owners.get(part, model)  # model names and list indices keep the owner
    close = difflib.get_close_matches(loc[-1], sorted(model.model_fields), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"the keys here are {', '.join(sorted(model.model_fields))}"
    return f"unknown key {'.'.join(loc)!r}: {hint}"


# -- CLI flags, derived from the fields ------------------------------------------------------------
@dataclass(frozen=True)
class FlagSpec:
    """One CLI flag for one top-level key: ``--latency-budget`` sets ``latency_budget``."""

    flag: str
    key: str
    help: str
    kind: str  # "bool", "int", "float", "str", "choice", "path", "mapping"
    choices: tuple[str, ...] = ()


def cli_flags() -> list[FlagSpec]:
    """Flags for every top-level key, so the CLI declares none of them twice."""
    flags = []
    for name, info in ProfileConfig.model_fields.items():
        annotation = info.annotation
        choices: tuple[str, ...] = ()
        args = getattr(annotation, "__args__", ())
        if annotation is bool:
            kind = "bool"
        elif annotation in (int, float):
            kind = annotation.__name__  # type: ignore[union-attr]
        elif annotation == float | None:
            kind = "float"
        elif annotation is Path:
            kind = "path"
        elif getattr(annotation, "__origin__", None) is Literal:
            kind, choices = "choice", tuple(str(a) for a in args)
        elif name == "profile_models":
            kind = "str"  # a comma list of names or paths
        else:
            kind = "mapping"  # objectives, constraints: YAML only, or "a,b" for objectives
        flags.append(FlagSpec("--" + name.replace("_", "-"), name, info.description or "", kind, choices))
    return flags
