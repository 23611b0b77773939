"""The knobs each Triton backend documents, and which of them tritune searches without being asked.

A backend knob is an *option*: a key naming where it lives in the model configuration and a
string value (``""``: unset, the backend's default). ``ServingConfig.backend_options`` carries a
variant's options; ``triton/backends.py`` renders them into the protobuf. Every knob here is
documented by its backend (the ``source`` of each names the file; docs/backends.md cites them):
no key is invented, and a key the server's backend rejects makes a failed variant, not a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Where an option lives in the model configuration.
PARAMETER_PREFIX = "parameters."  # parameters { key: K value { string_value: V } }
GPU_ACCELERATOR = "optimization.execution_accelerators.gpu_execution_accelerator"
CPU_ACCELERATOR = "optimization.execution_accelerators.cpu_execution_accelerator"
CUDA_GRAPHS = "optimization.cuda.graphs"
MODEL_WARMUP = "model_warmup"

UNSET = ""  # the backend's default: the option writes nothing
WARMUP_DATA = ("zero_data", "random_data")  # one batch-1 sample per input, of these contents

# Backend names as config.pbtxt spells them (``backend:`` or, for older configs, ``platform:``).
RUNNER = "tritune"  # tritune's own Python-backend runner (model files, the embedded default)
ONNXRUNTIME = "onnxruntime"
TENSORRT = "tensorrt"
PYTORCH = "pytorch"
OPENVINO = "openvino"
PYTHON = "python"  # the user's own model.py
_PLATFORMS = {
    "onnxruntime_onnx": ONNXRUNTIME,
    "tensorrt_plan": TENSORRT,
    "pytorch_libtorch": PYTORCH,
}

PROTO = "triton-inference-server/common protobuf/model_config.proto"
ORT_README = "triton-inference-server/onnxruntime_backend README.md"
TRT_README = "triton-inference-server/tensorrt_backend README.md"
TORCH_README = "triton-inference-server/pytorch_backend README.md"
TORCH_SOURCE = "triton-inference-server/pytorch_backend src/libtorch.cc"
OPENVINO_README = "triton-inference-server/openvino_backend README.md"
PYTHON_README = "triton-inference-server/python_backend README.md"

# Parameters a backend reads that configure where the model runs from, not how fast it serves.
NOT_KNOBS = frozenset({"EXECUTION_ENV_PATH"})


@dataclass(frozen=True)
class Knob:
    """One documented knob.

    Args:
        key: the option key (``parameters.NAME`` or one of the constants above).
        source: the repository and file that document it.
        automatic: the values searched without a manual list, the backend's default first;
            empty: searched only from a manual list.
        device: "gpu" where it applies only to KIND_GPU instances, else "any".
        ordered: whether its values have an order a hill climber may step along.
    """

    key: str
    source: str
    automatic: tuple[str, ...] = ()
    device: str = "any"
    ordered: bool = True


def tensorrt_accelerator(precision: str) -> str:
    """ONNX Runtime's TensorRT execution provider at ``precision`` ("FP32" or "FP16")."""
    return accelerators_value([{"name": "tensorrt", "parameters": {"precision_mode": precision}}])


def accelerators_value(accelerators: Sequence[Mapping[str, Any]]) -> str:
    """The option value for a list of execution accelerators (in priority order): canonical
    JSON, so the same list is the same value; ``UNSET`` for none."""
    if not accelerators:
        return UNSET
    items = []
    for accelerator in accelerators:
        if not isinstance(accelerator, Mapping) or not accelerator.get("name"):
            raise ValueError(f"an execution accelerator needs a name, e.g. {{name: tensorrt}}, got {accelerator!r}")
        item: dict[str, Any] = {"name": str(accelerator["name"])}
        parameters = _accelerator_parameters(accelerator.get("parameters") or {})
        if parameters:
            item["parameters"] = parameters
        items.append(item)
    return json.dumps(items, sort_keys=True, separators=(",", ":"))


def parse_accelerators(value: str) -> list[dict[str, Any]]:
    """The accelerators an option value stands for (``[]`` when unset)."""
    return list(json.loads(value)) if value else []


def _accelerator_parameters(parameters: Any) -> dict[str, str]:
    # map<string, string> in the proto; text format and Model Analyzer YAMLs also write it as a
    # list of {key, value} entries.
    if isinstance(parameters, Mapping) and set(parameters) == {"key", "value"}:
        parameters = [parameters]  # one map entry as text format writes it
    if isinstance(parameters, Mapping):
        return {str(k): option_text(v) for k, v in parameters.items()}
    return {str(p["key"]): option_text(p["value"]) for p in parameters}


def option_text(value: Any) -> str:
    """A manual list's value as the string an option carries: YAML reads true/1 as a bool or an
    int, the backends read strings ("true", "1")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def backend_name(backend: str | None, platform: str = "") -> str:
    """The backend a model configuration names: ``backend`` wins, ``platform`` is the older
    spelling (``onnxruntime_onnx`` is the onnxruntime backend); neither is tritune's runner."""
    name = backend or platform
    return _PLATFORMS.get(name, name) if name else RUNNER


def knobs(backend: str) -> tuple[Knob, ...]:
    """Every knob tritune knows for a backend (manual lists may set other ``parameters`` too:
    a user's model.py reads whatever keys it defines)."""
    return (Knob(MODEL_WARMUP, PROTO),) + _CATALOGUE.get(backend, ())


def automatic_knobs(backend: str, *, gpu: bool) -> tuple[Knob, ...]:
    """The knobs searched without a manual list on this hardware (none for tritune's runner,
    whose knobs are its runner options)."""
    return tuple(k for k in knobs(backend) if k.automatic and (gpu or k.device != "gpu"))


def gpu_only(key: str) -> bool:
    """Whether an option has an effect only on KIND_GPU instances (so on KIND_CPU it is unset)."""
    return key in (GPU_ACCELERATOR, CUDA_GRAPHS)


def _parameters(source: str, *names: str) -> tuple[Knob, ...]:
    return tuple(Knob(PARAMETER_PREFIX + name, source) for name in names)


_CATALOGUE: dict[str, tuple[Knob, ...]] = {
    ONNXRUNTIME: (
        Knob(
            GPU_ACCELERATOR,
            f"{ORT_README}; {PROTO}",
            automatic=(UNSET, tensorrt_accelerator("FP32"), tensorrt_accelerator("FP16")),
            device="gpu",
            ordered=False,
        ),
        Knob(CPU_ACCELERATOR, f"{ORT_README}; {PROTO}", ordered=False),  # openvino: not in every build
        *_parameters(
            ORT_README,
            "intra_op_thread_count",
            "inter_op_thread_count",
            "execution_mode",
            "enable_mem_arena",
            "enable_mem_pattern",
            "memory.enable_memory_arena_shrinkage",
            "session.use_device_allocator_for_initializers",
        ),
    ),
    TENSORRT: (
        Knob(CUDA_GRAPHS, PROTO, automatic=(UNSET, "true"), device="gpu"),
        *_parameters(TRT_README, "execution_context_allocation_strategy"),
    ),
    PYTORCH: (
        *_parameters(
            TORCH_README,
            "DISABLE_OPTIMIZED_EXECUTION",
            "INFERENCE_MODE",
            "ENABLE_NVFUSER",
            "ENABLE_WEIGHT_SHARING",
            "ENABLE_CACHE_CLEANING",
            "ENABLE_JIT_EXECUTOR",
            "ENABLE_JIT_PROFILING",
            "ENABLE_TENSOR_FUSER",
        ),
        *_parameters(TORCH_SOURCE, "INTRA_OP_THREAD_COUNT", "INTER_OP_THREAD_COUNT"),
    ),
    OPENVINO: _parameters(
        OPENVINO_README, "PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS", "HINT_BF16", "ENABLE_BATCH_PADDING"
    ),
    PYTHON: _parameters(PYTHON_README, "FORCE_CPU_ONLY_INPUT_TENSORS"),
}
