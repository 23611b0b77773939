"""What a served model looks like from outside: its inputs, outputs and max batch size, read
from the server's metadata and config (the load generator builds its requests from these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tritune.domain.model import ModelSignature, TensorSpec
from tritune.errors import ServerError, UsageError
from tritune.triton.http_api import TritonHttp, TritonHttpError, not_triton
from tritune.triton.server import Endpoints


@dataclass(frozen=True)
class ModelInfo:
    name: str
    signature: ModelSignature
    max_batch_size: int
    output_names: tuple[str, ...]
    # An ensemble's composing models as served, in step order (each once); () for any other model.
    steps: tuple[str, ...] = ()

    @property
    def batched(self) -> bool:
        return self.max_batch_size > 0


def config_type(datatype: str) -> str:
    """The config's name of a metadata data type: ``FP32`` -> ``TYPE_FP32``; a string tensor,
    ``BYTES`` in the metadata, is ``TYPE_STRING`` in a config (and in every TensorSpec)."""
    return "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}"


def _specs(tensors: Sequence[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(t["name"], config_type(t["datatype"]), tuple(int(d) for d in t["shape"])) for t in tensors)


def _ready_models(api: TritonHttp) -> list[str]:
    try:
        index = api.repository_index()
    except TritonHttpError:
        return []
    return sorted({m["name"] for m in index if m.get("state") == "READY"})


def inspect_model(endpoints: Endpoints, model: str, timeout_s: float = 10.0) -> ModelInfo:
    """The served model's inputs, outputs and max batch size, or a clear error: the server is
    unreachable, or the model is unknown or not ready."""
    api = endpoints.api(timeout_s=timeout_s)
    try:
        api.check_live()
    except TritonHttpError as error:
        if other := not_triton(endpoints.http, error):
            raise ServerError(other) from None
        if error.status:
            raise ServerError(f"Triton at {endpoints.http} is not live: check the server's log") from None
        raise ServerError(
            f"cannot reach Triton at {endpoints.http} ({error.reason}): start the server or fix the URL"
        ) from None
    if not api.is_model_ready(model):
        listing = ", ".join(_ready_models(api)) or "none"
        raise UsageError(
            f"model {model!r} is not loaded on the server at {endpoints.http} (ready models: {listing}): "
            "check the name or load the model first"
        )
    try:
        metadata = api.model_metadata(model)
        config = api.model_config(model)
    except TritonHttpError as error:  # unloaded between the two questions
        raise ServerError(f"model {model!r} is not available: {error.reason}") from None
    signature = ModelSignature(inputs=_specs(metadata.get("inputs", [])), outputs=_specs(metadata.get("outputs", [])))
    steps = tuple(dict.fromkeys(str(s["model_name"]) for s in config.get("ensemble_scheduling", {}).get("step", [])))
    outputs = tuple(t.name for t in signature.outputs)
    return ModelInfo(model, signature, int(config.get("max_batch_size", 0)), outputs, steps)
