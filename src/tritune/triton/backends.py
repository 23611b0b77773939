"""A variant's backend knobs rendered into the ModelConfig protobuf.

The knobs and their keys are described, without protobuf, in ``domain/backends.py``; this is
the one place that knows where each lives in ``model_config.proto``.
"""

from __future__ import annotations

from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2 as mc

from tritune.domain.backends import (
    CPU_ACCELERATOR,
    CUDA_GRAPHS,
    GPU_ACCELERATOR,
    MODEL_WARMUP,
    PARAMETER_PREFIX,
    WARMUP_DATA,
    parse_accelerators,
)
from tritune.domain.serving import ServingConfig
from tritune.domain.warmup_plan import SERVER_WARMUP_PREFIX, plan_from_config

WARMUP_NAME = "tritune_warmup"


def apply_backend_options(config: mc.ModelConfig, serving: ServingConfig) -> mc.ModelConfig:
    """A copy of ``config`` with the variant's backend options written in (the input is not
    changed). An option replaces what the config held at its place (a list of accelerators is
    the whole list); fields no option names are kept as they are.

    ``model_warmup`` needs the config's inputs, so apply this to a config that has them.

    Raises:
        ValueError: an option key or value this module does not know how to write.
    """
    out = mc.ModelConfig()
    out.CopyFrom(config)
    for key, value in serving.backend_options:
        if key.startswith(PARAMETER_PREFIX):
            out.parameters[key[len(PARAMETER_PREFIX) :]].string_value = value
        elif key in (GPU_ACCELERATOR, CPU_ACCELERATOR):
            _set_accelerators(out, key, value)
        elif key == CUDA_GRAPHS:
            if value not in ("true", "false"):
                raise ValueError(f"{CUDA_GRAPHS} takes true or false, got {value!r}")
            out.optimization.cuda.graphs = value == "true"
        elif key == MODEL_WARMUP:
            _set_warmup(out, value)
        else:
            raise ValueError(f"unknown backend option {key!r}")
    return out


def _set_accelerators(config: mc.ModelConfig, key: str, value: str) -> None:
    accelerators = config.optimization.execution_accelerators
    field = accelerators.gpu_execution_accelerator if key == GPU_ACCELERATOR else accelerators.cpu_execution_accelerator
    del field[:]
    for item in parse_accelerators(value):
        accelerator = field.add(name=item["name"])
        accelerator.parameters.update(item.get("parameters", {}))


def _set_warmup(config: mc.ModelConfig, data: str) -> None:
    """One warmup sample of batch 1 (also the only legal size for a model that does not batch),
    with zero or random data for every input; a dynamic dimension is warmed up at size 1."""
    if data not in WARMUP_DATA:
        raise ValueError(f"{MODEL_WARMUP} takes one of {', '.join(WARMUP_DATA)}, got {data!r}")
    del config.model_warmup[:]
    warmup = config.model_warmup.add(name=WARMUP_NAME, batch_size=1)
    for tensor in config.input:
        sample = warmup.inputs[tensor.name]
        sample.data_type = tensor.data_type
        sample.dims.extend(d if d > 0 else 1 for d in tensor.dims)
        setattr(sample, data, True)


def add_server_warmup(config: mc.ModelConfig) -> None:
    """Triton's own warm-up for tritune's runner: one zero-data sample per batch size the warm-up
    plan names (each run as often as the plan says: a CUDA graph is captured on a later run).
    Triton runs them on every instance as it loads the model, the instances at once, so a
    variant is warm when its load returns, and so is the config a user deploys. Not where an
    input has a dynamic dimension besides the batch: its size is the load's (``--shape``), so the
    load generator warms those up."""
    if any(d < 0 for tensor in config.input for d in tensor.dims):
        return
    plan = plan_from_config(json_format.MessageToDict(config, preserving_proto_field_name=True))
    del config.model_warmup[:]
    for size in plan.batch_sizes:
        warmup = config.model_warmup.add(name=f"{SERVER_WARMUP_PREFIX}{size}", batch_size=size, count=plan.runs)
        for tensor in config.input:
            sample = warmup.inputs[tensor.name]
            sample.data_type = tensor.data_type
            sample.dims.extend(tensor.dims)
            sample.zero_data = True
