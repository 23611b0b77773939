"""A model of the user's own repository, served by its own backend: its config.pbtxt as written,
Triton's completed config, the variants tritune makes of it and the entries it writes.

A variant changes only the searched fields (name, instance groups, max batch size, dynamic
batching); everything else of the user's config (backend, platform, parameters, tensors,
optimization, warmup, ...) travels unchanged. The user's files are never written: a variant's
entry links to them, an export copies them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritune.domain.model import DYNAMIC, ModelSignature, TensorSpec
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.errors import ModelError, UsageError
from tritune.triton.backends import apply_backend_options
from tritune.triton.model_config import to_pbtxt
from tritune.triton.repository import place_file, write_config

CONFIG_FILE = "config.pbtxt"
# Schedulers of the model's own: dynamic batching cannot be added beside them (one oneof in the proto).
_OWN_SCHEDULERS = ("sequence_batching", "ensemble_scheduling")


@dataclass(frozen=True)
class UserModel:
    """``<repository>/<name>/``: config.pbtxt plus numbered version directories."""

    name: str
    directory: Path
    config: mc.ModelConfig  # as the file says (Triton completes the rest when it loads it)
    backend: str  # backend or platform as written; "" when Triton infers it from the files
    text: str  # the file's text: part of the run's identity

    @property
    def versions(self) -> tuple[Path, ...]:
        return tuple(sorted(p for p in self.directory.iterdir() if p.is_dir() and p.name.isdigit()))

    def version_files(self) -> dict[str, Path]:
        """Every file of the version directories by its path relative to the entry (caches left out)."""
        return {
            str(path.relative_to(self.directory)): path
            for version in self.versions
            for path in sorted(version.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        }

    @property
    def is_ensemble(self) -> bool:
        """An ensemble (``platform: "ensemble"``): its steps are models of the repository."""
        return self.config.platform == "ensemble" or self.config.HasField("ensemble_scheduling")

    @property
    def batching_searchable(self) -> bool:
        """False when the model has a scheduler of its own, which dynamic batching would replace."""
        return self.config.WhichOneof("scheduling_choice") not in _OWN_SCHEDULERS


def read_user_model(repository: Path, name: str) -> UserModel:
    """Read ``<repository>/<name>/config.pbtxt``; UsageError naming the problem and the fix."""
    directory = Path(repository) / name
    if not Path(repository).is_dir():
        raise UsageError(f"model repository {repository} is not a directory: check --model-repository")
    if not directory.is_dir():
        held = ", ".join(sorted(p.name for p in Path(repository).iterdir() if p.is_dir())) or "no model"
        raise UsageError(
            f"model {name!r} is not in {repository} (no directory {directory}); it holds {held}: check --profile-models"
        )
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise UsageError(f"{directory} has no {CONFIG_FILE}: write one with at least the model's backend")
    text = path.read_text()
    config = mc.ModelConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        where = f"{path}:{error.GetLine()}" if error.GetLine() else str(path)
        raise UsageError(f"{where}: not a valid model config ({error}): fix that line") from None
    model = UserModel(name, directory.resolve(), config, config.backend or config.platform, text)
    if not model.versions:
        raise UsageError(f"{directory} has no version directory: put the model files in {directory}/1/")
    return model


def served_config(document: dict[str, Any]) -> mc.ModelConfig:
    """Triton's completed config (``GET /v2/models/<m>/config``) as the protobuf."""
    config = mc.ModelConfig()
    json_format.ParseDict(document, config, ignore_unknown_fields=True)  # newer servers add fields
    return config


def signature_of(config: mc.ModelConfig) -> ModelSignature:
    """The tensors as served: with a batch dimension in front when the model batches."""
    if not config.input:
        raise ModelError(
            f"the config Triton completed for {config.name!r} lists no inputs: declare them in its config.pbtxt"
        )
    batch = (DYNAMIC,) if config.max_batch_size > 0 else ()

    def spec(tensor: mc.ModelInput | mc.ModelOutput) -> TensorSpec:
        return TensorSpec(tensor.name, mc.DataType.Name(tensor.data_type), batch + tuple(tensor.dims))

    return ModelSignature(tuple(spec(t) for t in config.input), tuple(spec(t) for t in config.output))


def serving_of(config: mc.ModelConfig) -> ServingConfig:
    """The searched fields of a config: its first instance group, max batch size, dynamic batching."""
    group = config.instance_group[0] if config.instance_group else mc.ModelInstanceGroup(count=1)
    batching = None
    if config.HasField("dynamic_batching") and config.max_batch_size > 0:
        dynamic = config.dynamic_batching
        batching = DynamicBatching(dynamic.max_queue_delay_microseconds, tuple(dynamic.preferred_batch_size))
    return ServingConfig(
        max_batch_size=config.max_batch_size,
        instance_count=group.count or 1,  # Triton's default for an unset count
        instance_kind=mc.ModelInstanceGroup.Kind.Name(group.kind),
        dynamic_batching=batching,
    )


def variant_config(base: mc.ModelConfig, name: str, serving: ServingConfig) -> mc.ModelConfig:
    """``base`` with only the searched fields set from ``serving``; everything else as it is.

    Instance groups keep their other fields (gpus, profiles, ...); they are left untouched when
    the first group already has the count and kind. Dynamic batching keeps the user's other
    fields (priorities, queue policy) and is absent when the variant has none. Pure.

    Raises:
        ValueError: dynamic batching asked of a model with a scheduler of its own.
    """
    config = mc.ModelConfig()
    config.CopyFrom(base)
    config.name = name
    _set_instances(config, serving.instance_count, serving.instance_kind)
    for group in config.instance_group if serving.gpus else ():  # --gpus wins over the file's
        if group.kind == mc.ModelInstanceGroup.Kind.KIND_GPU:
            del group.gpus[:]
            group.gpus.extend(serving.gpus)
    config.max_batch_size = serving.max_batch_size
    _set_batching(config, serving)
    # The backend's own knobs (parameters, accelerators, warmup) the variant searched, if any.
    return apply_backend_options(config, serving)


def _set_batching(config: mc.ModelConfig, serving: ServingConfig) -> None:
    batching = serving.dynamic_batching if serving.max_batch_size > 0 else None
    scheduler = config.WhichOneof("scheduling_choice")
    if batching is None:
        if scheduler == "dynamic_batching":
            config.ClearField("dynamic_batching")
        return
    if scheduler in _OWN_SCHEDULERS:
        raise ValueError(f"model {config.name!r} uses {scheduler}, which dynamic batching would replace")
    dynamic = config.dynamic_batching
    dynamic.SetInParent()
    dynamic.max_queue_delay_microseconds = batching.max_queue_delay_us
    del dynamic.preferred_batch_size[:]
    dynamic.preferred_batch_size.extend(batching.preferred_batch_sizes)


def with_instances(config: mc.ModelConfig, name: str, count: int, kind: str) -> mc.ModelConfig:
    """``config`` named ``name`` with ``count`` instances of ``kind`` and nothing else changed
    (the user's groups as they are where they already say so). Pure."""
    changed = mc.ModelConfig()
    changed.CopyFrom(config)
    changed.name = name
    _set_instances(changed, count, kind)
    return changed


def _set_instances(config: mc.ModelConfig, count: int, kind: str) -> None:
    kind_value = mc.ModelInstanceGroup.Kind.Value(kind)
    groups = config.instance_group
    if groups and (groups[0].count or 1, groups[0].kind) == (count, kind_value):
        return  # the user's groups as they are (the default configuration reproduces their file)
    if not groups:
        groups.add()
    for group in groups:
        group.count = count
        if group.kind != kind_value:
            group.kind = kind_value
            if kind_value == mc.ModelInstanceGroup.Kind.KIND_CPU:
                del group.gpus[:]  # Triton refuses GPU ids on a CPU group


class Placement(Enum):
    LINK = "link"  # symbolic links to the user's files: the run's variants
    COPY = "copy"  # a copy (or a reflink): an entry that stands on its own (best/, --export)


def write_entry(repository: Path, name: str, model: UserModel, config: mc.ModelConfig, placement: Placement) -> Path:
    """``<repository>/<name>/``: the user's version directories and ``config``; its config.pbtxt.

    Directories are real and files are placed one by one, so whatever the backend writes beside
    them (a python model's ``__pycache__``) lands in this entry, never in the user's folder.
    """
    entry = Path(repository) / name
    if _overlaps(entry, model.directory):
        raise UsageError(
            f"{entry} is (inside) your model's own directory {model.directory}: export to another "
            "folder (tritune never writes into your repository)"
        )
    for version in model.versions:  # empty directories too (a SavedModel's assets/)
        for path in (version, *version.rglob("*")):
            if path.is_dir() and "__pycache__" not in path.parts:
                (entry / path.relative_to(model.directory)).mkdir(parents=True, exist_ok=True)
    for relative, source in model.version_files().items():
        destination = entry / relative
        if placement is Placement.LINK:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.unlink(missing_ok=True)
            destination.symlink_to(source.resolve())
        else:
            place_file(source, destination)
    return write_config(entry, config)


def _overlaps(entry: Path, directory: Path) -> bool:
    entry = entry.resolve()
    return entry == directory or directory in entry.parents or entry in directory.parents


def config_diff(model: UserModel, best_text: str, best_file: str = f"best/{CONFIG_FILE}") -> str:
    """A unified diff from the user's config (as protobuf text) to ``best_text`` (``best_file``)."""
    diff = difflib.unified_diff(
        to_pbtxt(model.config).splitlines(keepends=True),
        best_text.splitlines(keepends=True),
        fromfile=str(model.directory / CONFIG_FILE),
        tofile=best_file,
    )
    same = "your config as it is: nothing to change"
    return "".join(diff) or f"# {best_file}: the best configuration measured is {same}\n"
