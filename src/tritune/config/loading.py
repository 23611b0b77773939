"""Loading the profile configuration: a YAML file plus CLI overrides, and every problem as one
line naming the key and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tritune.config.profile_config import ProfileConfig
from tritune.errors import UsageError


def load_profile_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> ProfileConfig:
    """Read the YAML file (if any), apply CLI overrides (None means "not given").

    An override's key is a top-level key, or a dotted path into a section
    (``measurement.max_trials``) that replaces that one key and keeps the file's others.

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
            _set(data, key.replace("-", "_").split("."), value)
    return parse_profile_config(data, source=source)


def parse_profile_config(data: Mapping[str, Any], *, source: str = "config") -> ProfileConfig:
    try:
        return ProfileConfig.model_validate(dict(data))
    except ValidationError as error:
        lines = [f"{source}: {line}" for line in _error_lines(error)]
        raise UsageError(lines[0] if len(lines) == 1 else "\n".join(lines)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise UsageError(f"config file {path} does not exist: check the path given to --config-file")
    if path.is_dir():
        raise UsageError(f"config file {path} is a folder: give the YAML file to --config-file")
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


# Model Analyzer keys tritune does not take, with what to do instead (the rest: remove the key).
MODEL_ANALYZER_ONLY = {
    "perf_analyzer_flags": "put perf_analyzer's settings under 'measurement' (or pass them as flags)",
    "perf_analyzer_path": "tritune measures with its own load generator: remove it",
    "perf_analyzer_timeout": "tritune measures with its own load generator: remove it",
    "perf_analyzer_cpu_util": "tritune measures with its own load generator: remove it",
    "perf_analyzer_max_auto_adjusts": "tritune measures with its own load generator: remove it",
    "perf_output": "tritune measures with its own load generator: remove it",
    "perf_output_path": "tritune measures with its own load generator: remove it",
    "triton_docker_image": "start the container yourself and use triton_launch_mode: remote",
    "triton_docker_shm_size": "start the container yourself and use triton_launch_mode: remote",
    "triton_docker_mounts": "start the container yourself and use triton_launch_mode: remote",
    "triton_docker_labels": "start the container yourself and use triton_launch_mode: remote",
    "triton_docker_args": "start the container yourself and use triton_launch_mode: remote",
    "triton_install_path": "give the binary as triton_server_path",
    "triton_output_path": "tritune writes the server's log to <run>/tritonserver.log: remove it",
    "triton_server_environment": "set the variables in tritune's own environment",
    "checkpoint_directory": "tritune keeps its results in <run>/tritune.db: pass --run-dir",
    "output_model_repository_path": "tritune writes the variants under --run-dir: remove it",
    "override_output_model_repository": "tritune writes the variants under --run-dir: remove it",
    "cpu_only_composing_models": "composing models are served as each config says: set KIND_CPU there",
    "client_protocol": "set measurement: {protocol: grpc} (or --protocol)",
}


def _unknown_key(loc: list[str]) -> str:
    if loc and loc[-1] in MODEL_ANALYZER_ONLY:
        return (
            f"{'.'.join(loc)!r} is a Model Analyzer key that tritune does not support: {MODEL_ANALYZER_ONLY[loc[-1]]}"
        )
    # Walk the key path to the model that owns the unknown key, to suggest its nearest field.
    model: type[BaseModel] = ProfileConfig
    for part in loc[:-1]:
        model = _nested_model(model, part)
    close = difflib.get_close_matches(loc[-1], sorted(model.model_fields), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"the keys here are {', '.join(sorted(model.model_fields))}"
    return f"unknown key {'.'.join(loc)!r}: {hint}"


def _nested_model(model: type[BaseModel], key: str) -> type[BaseModel]:
    """The model under ``key`` (through lists, maps and None); model names and list indices
    are not fields, so they keep the owner."""
    field = model.model_fields.get(key)
    types = [field.annotation] if field is not None else []
    while types:
        kind = types.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
        types.extend(getattr(kind, "__args__", ()))
    return model


def _set(data: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        section = data.get(part)
        data[part] = section = dict(section) if isinstance(section, Mapping) else {}
        data = section
    data[path[-1]] = value


def read_file_models(path: str | Path) -> dict[str, dict[str, Any]]:
    """The config file's ``profile_models`` as name -> settings (names alone get ``{}``)."""
    raw = _read_yaml(Path(path)).get("profile_models")
    if raw is None:
        return {}
    if isinstance(raw, str):
        raw = [v.strip() for v in raw.split(",") if v.strip()]
    if isinstance(raw, list):
        merged: dict[str, Any] = {}
        for item in raw:
            merged.update(item if isinstance(item, Mapping) else {str(item): {}})
        raw = merged
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): dict(v) if isinstance(v, Mapping) else {} for k, v in raw.items()}


def model_with_file_settings(
    file_models: Mapping[str, Mapping[str, Any]], name: str, model_path: Path, *, named: bool
) -> dict[str, dict[str, Any]]:
    """``profile_models`` for a MODEL given on the command line beside a config file: the file's
    entry for it keeps its settings (manual lists, objectives, constraints) and gets the path.

    The entry is the one of the same name, else the one whose ``model_path`` is this file, else
    the file's only entry (unless ``named``: a --name picks by name alone).

    Raises:
        UsageError: the file has entries and none of them is this model.
    """
    if not file_models:
        return {name: {"model_path": str(model_path)}}
    target = model_path.resolve()
    chosen = name if name in file_models else None
    if chosen is None and not named:
        by_path = [
            key
            for key, settings in file_models.items()
            if settings.get("model_path") and Path(str(settings["model_path"])).expanduser().resolve() == target
        ]
        chosen = by_path[0] if by_path else next(iter(file_models)) if len(file_models) == 1 else None
    if chosen is None:
        raise UsageError(
            f"MODEL {model_path} is none of the config file's profile_models ({', '.join(file_models)}): "
            "name the entry with --name, or leave MODEL out and give its model_path in the file"
        )
    return {chosen: {**file_models[chosen], "model_path": str(model_path)}}
