"""The profile settings: pydantic models with Model Analyzer's key names (profile_config.py,
sections.py), YAML + CLI overrides with one-line errors (loading.py), and the CLI flags derived
from the fields (flags.py)."""

from tritune.config.flags import FlagSpec, cli_flags
from tritune.config.loading import (
    load_profile_config,
    model_with_file_settings,
    parse_profile_config,
    read_file_models,
)
from tritune.config.measurement import ConfirmSettings, MeasurementSettings
from tritune.config.profile_config import ProfileConfig, SearchMode
from tritune.config.sections import (
    BoundSpec,
    DynamicBatchingSpec,
    InstanceGroupSpec,
    LoadParameters,
    ModelConfigParameters,
    ModelSettings,
)

__all__ = [
    "BoundSpec",
    "ConfirmSettings",
    "DynamicBatchingSpec",
    "FlagSpec",
    "InstanceGroupSpec",
    "LoadParameters",
    "MeasurementSettings",
    "ModelConfigParameters",
    "ModelSettings",
    "ProfileConfig",
    "SearchMode",
    "cli_flags",
    "load_profile_config",
    "model_with_file_settings",
    "parse_profile_config",
    "read_file_models",
]
