"""The profile configuration: every setting of ``tritune profile``, validated once, then frozen.

Keys are Model Analyzer's where it has one (``model_repository``, ``profile_models``, ``objectives``,
``constraints``, ``run_config_search_*``, ``latency_budget``, ``min_throughput``,
``num_configs_per_model``, ``optuna_*``, ``export_path``), so its users can reuse their files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from tritune.analysis.constraints import Bound, Constraints
from tritune.analysis.objectives import DEFAULT_OBJECTIVES, Objectives
from tritune.config.connection import ConnectionSettings
from tritune.config.measurement import ConfirmSettings, MeasurementSettings
from tritune.config.sections import (
    BoundSpec,
    FrozenSection,
    ModelSettings,
    known_constraints,
    known_objectives,
    objective_weights,
)
from tritune.domain.joint_space import MAX_STEPS
from tritune.domain.metrics import LATENCY_P99, THROUGHPUT
from tritune.triton.launch import LaunchMode

SearchMode = Literal["default", "brute", "quick", "optuna"]
# Model Analyzer's other modes, and what to use instead.
UNSUPPORTED_LAUNCH_MODES = {
    "docker": "docker is not supported: start the container yourself "
    "(--model-control-mode=explicit) and use triton_launch_mode remote",
    "c_api": "c_api is not supported: use embedded (the default) or local",
}


class ProfileConfig(FrozenSection):
    """Everything ``tritune profile`` needs to know, validated and frozen."""

    profile_models: dict[str, ModelSettings] = Field(
        description="models to profile: a name/path, a comma list, a list, or a map to per-model settings"
    )
    model_repository: Path | None = Field(
        default=None,
        description="your Triton model repository: profile_models name its models, each served by its own backend",
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
    gpus: list[int] | None = Field(
        default=None,
        description="GPUs to serve on and measure, by index, e.g. 0,1 (Model Analyzer's gpus; default: all visible)",
        json_schema_extra={"comma_list": True},
    )
    bls_composing_models: list[str] = Field(
        default=[],
        description="the models a BLS model of model_repository calls by name, searched jointly (Model Analyzer's key)",
        json_schema_extra={"comma_list": True},
    )
    run_config_profile_models_concurrently_enable: bool = Field(
        default=False,
        description="profile the profile_models of model_repository together: loaded and driven at once, "
        "searched jointly for their weighted throughput (Model Analyzer's key)",
    )
    measurement: MeasurementSettings = Field(
        default=MeasurementSettings(), description="how each load point is measured (its keys are flags too)"
    )
    confirm: ConfirmSettings = Field(
        default=ConfirmSettings(), description="the finalists re-measured after the search (--confirm-* flags)"
    )
    # -- the server (Model Analyzer's keys). Excluded from dumps, so not part of a run's identity:
    # a rerun against a fixed or moved server resumes the same run (see README, resume).
    triton_launch_mode: LaunchMode = Field(
        default="embedded",
        exclude=True,
        description="embedded (the bundled server), local (your tritonserver binary) or remote (a server you run)",
    )
    triton_server_path: str | None = Field(
        default=None, exclude=True, description="local mode: the tritonserver binary (a relative path works)"
    )
    triton_server_flags: dict[str, Any] = Field(
        default={}, exclude=True, description="extra tritonserver flags, e.g. {log_verbose: 1} (YAML only)"
    )
    triton_http_endpoint: str | None = Field(
        default=None, exclude=True, description="remote mode: the server's HTTP host:port"
    )
    triton_grpc_endpoint: str | None = Field(
        default=None, exclude=True, description="remote mode: the server's gRPC host:port (default: HTTP port + 1)"
    )
    triton_metrics_url: str | None = Field(
        default=None, exclude=True, description="remote mode: the Prometheus URL (default: HTTP port + 2)"
    )
    connection: ConnectionSettings = Field(
        default=ConnectionSettings(),
        exclude=True,  # a header holds a token: never in a dump, the fingerprint or the store
        description="remote mode: TLS and headers, perf_analyzer's --ssl-* and -H (YAML section; the flags too)",
    )

    _objectives = field_validator("objectives", mode="before")(objective_weights)
    _objective_names = field_validator("objectives")(known_objectives)
    _constraint_names = field_validator("constraints")(known_constraints)

    @field_validator("gpus", mode="before")
    @classmethod
    def _gpus(cls, value: Any) -> Any:
        # "0,1" from the flag, a YAML list, or Model Analyzer's "all" (every visible GPU).
        if isinstance(value, int):
            value = [value]
        if isinstance(value, str):
            if value.strip().lower() == "all":
                return None
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            if value and all(isinstance(v, str) and not v.strip().isdigit() for v in value):
                raise ValueError(f"gpus {value} are not GPU indices: give indices such as 0,1 (nvidia-smi lists them)")
            if len(set(map(str, value))) != len(value):
                raise ValueError(f"gpus {value} repeat a GPU: list each once")
        return value

    @field_validator("bls_composing_models", mode="before")
    @classmethod
    def _bls_models(cls, value: Any) -> Any:
        # Model Analyzer's "a,b" (also what the flag gives) or a YAML list; each name once.
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and len(set(map(str, value))) != len(value):
            raise ValueError(f"bls_composing_models {value} repeat a model: list each once")
        return value

    @field_validator("gpus")
    @classmethod
    def _gpu_indices(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or min(value) < 0):
            raise ValueError(f"gpus {value} must be GPU indices (0 or more), e.g. 0,1")
        return value

    @model_serializer(mode="wrap")
    def _leave_out_unset_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Added after runs were stored: left out when unset, so a run's fingerprint (a hash of
        # the dump) is what it was; set, a GPU selection or BLS calls are part of the run's identity.
        data: dict[str, Any] = handler(self)
        if data.get("gpus", 0) is None:
            data.pop("gpus")
        if data.get("bls_composing_models", 0) in ([], ()):
            data.pop("bls_composing_models")
        if data.get("run_config_profile_models_concurrently_enable", True) is False:
            data.pop("run_config_profile_models_concurrently_enable")
        return data

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

    @model_validator(mode="before")
    @classmethod
    def _implied_launch_mode(cls, data: Any) -> Any:
        """A server path alone means local mode, an HTTP endpoint alone remote mode (what
        --tritonserver and --url always meant)."""
        if isinstance(data, Mapping) and not data.get("triton_launch_mode"):
            if data.get("triton_http_endpoint"):
                return {**data, "triton_launch_mode": "remote"}
            if data.get("triton_server_path"):
                return {**data, "triton_launch_mode": "local"}
        return data

    @field_validator("triton_launch_mode", mode="before")
    @classmethod
    def _launch_mode(cls, value: Any) -> Any:
        if value in UNSUPPORTED_LAUNCH_MODES:
            raise ValueError(UNSUPPORTED_LAUNCH_MODES[value])
        return value

    @model_validator(mode="after")
    def _server(self) -> ProfileConfig:
        if self.triton_launch_mode == "remote" and not self.triton_http_endpoint:
            raise ValueError(
                "triton_launch_mode remote needs the server's address: add triton_http_endpoint (e.g. localhost:8000)"
            )
        return self

    @model_validator(mode="after")
    def _repository_models(self) -> ProfileConfig:
        if self.model_repository is None:
            if self.bls_composing_models:
                raise ValueError(
                    "bls_composing_models name models of a repository: give model_repository (--model-repository)"
                )
            return self
        for name, settings in self.profile_models.items():
            if settings.model_path:
                raise ValueError(
                    f"profile_models.{name}.model_path is given with model_repository: a repository's models "
                    "are its entries, so drop model_path (or model_repository to profile the file)"
                )
            if settings.model_config_parameters and settings.model_config_parameters.precision:
                raise ValueError(
                    f"profile_models.{name}.model_config_parameters.precision needs a model file tritune "
                    "prepares: a repository model is served as it is, so drop it"
                )
        return self

    @model_validator(mode="after")
    def _concurrent(self) -> ProfileConfig:
        if not self.run_config_profile_models_concurrently_enable:
            return self
        names = list(self.profile_models)
        if self.model_repository is None:
            raise ValueError(
                "run_config_profile_models_concurrently_enable profiles models of a repository: "
                "give model_repository (--model-repository)"
            )
        if len(names) < 2:
            raise ValueError(
                f"run_config_profile_models_concurrently_enable needs two or more profile_models (got {names}): "
                "list them, e.g. --profile-models a,b"
            )
        if len(names) > MAX_STEPS:
            raise ValueError(
                f"run_config_profile_models_concurrently_enable searches at most {MAX_STEPS} models jointly "
                f"(got {len(names)}): profile fewer together"
            )
        if self.bls_composing_models:
            raise ValueError(
                "bls_composing_models profiles one BLS model, not models concurrently: drop one of the two keys"
            )
        if "objectives" in self.model_fields_set or any(s.objectives for s in self.profile_models.values()):
            raise ValueError(
                "models profiled concurrently maximize their weighted throughput: drop objectives and weigh "
                "models with profile_models.<model>.weighting"
            )
        return self

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
    @property
    def concurrent(self) -> bool:
        """Whether the profile_models are profiled together on one server."""
        return self.run_config_profile_models_concurrently_enable

    def weighting(self, model: str) -> float:
        """A model's weight in the objective of models profiled concurrently (1 unless given)."""
        return self.profile_models[model].weighting or 1.0

    def objectives_for(self, model: str) -> Objectives:
        return Objectives.of(self.profile_models[model].objectives or self.objectives)

    def constraints_for(self, model: str) -> Constraints:
        """Per-model constraints replace global ones metric by metric; the shortcuts win last
        (they usually come from the command line, which is the most specific place)."""
        merged = dict(self.constraints) | dict(self.profile_models[model].constraints or {})
        bounds = {m: (b.min, b.max) for m, b in merged.items()}
        if self.latency_budget is not None:
            bounds[LATENCY_P99] = (
                bounds.get(LATENCY_P99, (None, None))[0],
                self.latency_budget,
            )
        if self.min_throughput is not None:
            bounds[THROUGHPUT] = (self.min_throughput, bounds.get(THROUGHPUT, (None, None))[1])
        return Constraints(tuple(Bound(m, lo, hi) for m, (lo, hi) in bounds.items()))
