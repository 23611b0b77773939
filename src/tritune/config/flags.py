"""CLI flags derived from the configuration's fields, so each setting is declared once.

``--latency-budget`` sets the top-level ``latency_budget``; a section's keys become flags of
their own names (``--max-trials`` sets ``measurement.max_trials``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tritune.config.profile_config import ProfileConfig

# Sections whose keys are flags too (the others are YAML only).
FLAG_SECTIONS = ("measurement",)
# Sections whose keys are flags named with the section first (``--confirm-rounds``).
PREFIXED_SECTIONS = ("confirm",)
# Sections whose flags are declared elsewhere: ``connection``'s are perf_analyzer's (cli/options.py).
OWN_FLAG_SECTIONS = ("connection",)


@dataclass(frozen=True)
class FlagSpec:
    """One CLI flag for one key: ``key`` is the key's path (``measurement.max_trials``), ``dest``
    the option's parameter name."""

    flag: str
    key: str
    help: str
    kind: str  # "bool", "int", "float", "str", "choice", "path", "repeatable", "mapping"
    choices: tuple[str, ...] = ()
    default: str | None = None  # for the help text: the option itself defaults to "not given"
    prefixed: bool = False  # a key of a PREFIXED_SECTIONS section: its dest names the section too

    @property
    def dest(self) -> str:
        return self.key.replace(".", "_") if self.prefixed else self.key.rpartition(".")[2]


def cli_flags() -> list[FlagSpec]:
    """Flags for every top-level key and every key of the flag sections."""
    flags = []
    for name, info in ProfileConfig.model_fields.items():
        if name in FLAG_SECTIONS:
            section = info.annotation
            assert isinstance(section, type) and issubclass(section, BaseModel)
            flags += [_flag(f"{name}.{key}", key, field) for key, field in section.model_fields.items()]
        elif name in PREFIXED_SECTIONS:
            section = info.annotation
            assert isinstance(section, type) and issubclass(section, BaseModel)
            for key, field in section.model_fields.items():
                extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
                spec = _flag(f"{name}.{key}", f"{name}_{extra.get('flag', key)}", field)
                flags.append(dataclasses.replace(spec, prefixed=True))
        elif name not in OWN_FLAG_SECTIONS:
            flags.append(_flag(name, name, info))
    return flags


def _flag(key: str, name: str, info: FieldInfo) -> FlagSpec:
    annotation: Any = info.annotation
    choices: tuple[str, ...] = ()
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("repeatable"):
        kind = "repeatable"
    elif annotation is bool:
        kind = "bool"
    elif annotation in (int, float):
        kind = annotation.__name__
    elif annotation in (float | None, int | None, str | None):
        kind = annotation.__args__[0].__name__
    elif annotation in (Path, Path | None):
        kind = "path"
    elif getattr(annotation, "__origin__", None) is Literal:
        kind, choices = "choice", tuple(str(a) for a in annotation.__args__)
    elif name == "profile_models" or extra.get("comma_list"):
        kind = "str"  # a comma list (of names or paths, of GPU indices), which the config parses
    else:
        kind = "mapping"  # objectives, constraints: YAML only, or "a,b" for objectives
    default = info.default if isinstance(info.default, int | float | str | Path) else None
    shown = None if default is None or kind == "bool" else str(default)
    if kind == "bool" and default is True:
        shown = "on"  # a setting on by default: its flag comes with a --no- form to switch it off
    return FlagSpec("--" + name.replace("_", "-"), key, info.description or "", kind, choices, shown)
