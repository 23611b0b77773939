"""A run's identity: same model bytes + same settings + same measurement = same run (resumed),
anything else starts a new one. The fingerprint hashes the model's files (a repository model's
config and version files; an ensemble's, or models profiled concurrently, each composing model's
too), the config's dump and the measurement's identity."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from tritune.config import MeasurementSettings, ProfileConfig
from tritune.triton.repository import file_digest

if TYPE_CHECKING:
    from tritune.profile.records import ModelFiles


def measurement_identity(settings: MeasurementSettings) -> dict[str, Any]:
    """The measurement part of a run's identity, in the keys and units runs were stored with
    before these settings became a section of the config, so those runs still resume."""
    identity: dict[str, Any] = {
        "protocol": settings.protocol,
        "window_ms": settings.measurement_interval,
        "stability": settings.stability_percentage / 100,
        "max_windows": settings.max_trials,
        "shapes": {k: list(v) for k, v in settings.shape.items()},
    }
    if settings.measurement_mode != "time_windows":  # left out for time windows, the only kind once
        identity["window_mode"] = settings.measurement_mode
        identity["request_count"] = settings.measurement_request_count
    if settings.server_cpus is not None:
        # Pinning changes the numbers, so it is part of the run's identity; left out when
        # unset, so runs stored before the option existed still resume.
        identity["server_cpus"] = settings.server_cpus
    if settings.shared_memory != "none":  # left out when off, as server_cpus is
        identity["shared_memory"] = settings.shared_memory
    if not settings.warmup:
        # A cold first measurement is another measurement; on (the default) it is left out, so
        # runs stored before the warm-up existed still resume.
        identity["warmup"] = False
    return identity


def model_identity(model: ModelFiles) -> dict[str, Any]:
    """The model's part of a run's identity: its files' digests (a user model: its config's text
    and the digests of its version files, so an edit to either starts a new run; an ensemble:
    its own and each composing model's)."""
    if model.concurrent:
        return {"concurrent": {step.name: model_identity(step) for step in model.steps}}
    if model.user is None:
        return {k: file_digest(p) for k, p in sorted(model.files.items())}
    files = {k: file_digest(p) for k, p in model.user.version_files().items()}
    steps = {"steps": {step.name: model_identity(step) for step in model.steps}} if model.steps else {}
    return {"config.pbtxt": model.user.text, **files, **steps}


def run_fingerprint(model: ModelFiles, config: ProfileConfig) -> str:
    """Same model bytes + same settings = same run (resumed); anything else starts a new run."""
    identity = {
        "model": model_identity(model),
        # The measurement section has its own part (older runs kept it outside the config); where
        # the repository lies is not the model's identity (its bytes are), and the settings of
        # the confirm step neither: a rerun with more rounds resumes the run and adds them.
        "config": json.loads(config.model_dump_json(exclude={"measurement", "model_repository", "confirm"})),
        "measure": measurement_identity(config.measurement),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
