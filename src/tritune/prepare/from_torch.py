"""PyTorch models to ONNX with a dynamic batch dimension.

The example batch is 2, never 1: an example batch of 1 gets specialized into the graph. The
dynamo exporter (``torch.onnx.export(dynamo=True)``, needs onnxscript) goes first; when it fails
the TorchScript exporter with ``dynamic_axes`` is tried. A TorchScript archive can only go
through the TorchScript exporter. Whatever the exporter bakes in, the stacked-batch check
catches later."""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tritune.errors import ModelError, UsageError
from tritune.prepare.options import InputSpec, PrepareOptions
from tritune.prepare.sources import Source
from tritune.prepare.validate import error_text
from tritune.triton.model_config import load_onnx

EXPORT_BATCH = 2


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ModelError("PyTorch models need torch, which is not installed: pip install torch") from None
    return torch


def load_factory(spec: str) -> Any:
    torch = _torch()
    module_name, _, function_name = spec.partition(":")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # as `python -m` does: a factory module in the working directory imports
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ModelError(
            f"cannot import {module_name!r} for the factory {spec} ({error_text(error)}): "
            "check that the module is on PYTHONPATH"
        ) from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise ModelError(f"{module_name} has no function {function_name!r}: check the factory name {spec}")
    try:
        model = factory()
    except Exception as error:
        raise ModelError(f"the factory {spec} raised {error_text(error)}: fix the factory") from None
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"the factory {spec} returned {type(model).__name__}, not a torch.nn.Module: return the model")
    return model.eval()


def load_torchscript(path: Path) -> Any:
    torch = _torch()
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as error:
        raise ModelError(
            f"{path} is not a TorchScript archive ({error_text(error)}): save it with "
            "torch.jit.save(torch.jit.trace(model, example)) or pass a package.module:function factory"
        ) from None


def load_exported_program(path: Path) -> Any:
    torch = _torch()
    try:
        return torch.export.load(str(path))
    except Exception as error:
        raise ModelError(
            f"{path} is not a torch.export ExportedProgram ({error_text(error)}): save it with "
            "torch.export.save(torch.export.export(model, example), path)"
        ) from None


def _exported_program_inputs(program: Any) -> tuple[list[InputSpec], int | None]:
    """Per-sample specs from the program's own placeholders, and its fixed batch (None: dynamic)."""
    torch = _torch()
    user_inputs = list(program.graph_signature.user_inputs)
    specs, batches = [], set()
    for node in program.graph.nodes:
        if node.op != "placeholder" or node.name not in user_inputs:
            continue
        value = node.meta.get("val")
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            raise UsageError(f"ExportedProgram input {node.name!r} is not a batched tensor: give --input for it")
        first = value.shape[0]
        batches.add(int(first) if isinstance(first, int) else None)
        dims = tuple(int(d) for d in value.shape[1:]) if all(isinstance(d, int) for d in value.shape[1:]) else None
        if dims is None:
            raise UsageError(
                f"ExportedProgram input {node.name!r} has dynamic non-batch dimensions: give --input NAME:D1,D2"
            )
        specs.append(InputSpec(node.name, dims, str(value.dtype).removeprefix("torch.")))
    fixed = batches.pop() if len(batches) == 1 else None
    return specs, fixed


def example_inputs(specs: tuple[InputSpec, ...] | list[InputSpec], batch: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in specs:
        dtype = np.dtype(spec.dtype or "float32")
        shape = (batch, *spec.dims)
        if np.issubdtype(dtype, np.floating):
            feeds[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[spec.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            feeds[spec.name] = rng.integers(0, 2, size=shape).astype(dtype)
    return feeds


def _flatten(value: Any) -> list[Any]:
    torch = _torch()
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _flatten(item)]
    if isinstance(value, Mapping):
        return [t for item in value.values() for t in _flatten(item)]
    raise ModelError(f"the model returns {type(value).__name__}, not tensors: return tensors (or tuples/dicts of them)")


def torch_runner(module: Any, input_names: list[str], output_names: list[str]) -> Any:
    torch = _torch()

    def run(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = [torch.from_numpy(np.ascontiguousarray(feeds[name])) for name in input_names]
        with torch.inference_mode():
            outputs = _flatten(module(*args))
        return {name: t.detach().cpu().numpy() for name, t in zip(output_names, outputs, strict=True)}

    return run


def _export(
    model: Any, args: tuple[Any, ...], path: Path, input_names: list[str], output_names: list[str],
    opset: int, *, dynamo: bool, dynamic: bool,
) -> None:  # fmt: skip
    torch = _torch()
    log = io.StringIO()
    # The exporters print progress to stdout, which belongs to the CLI's data.
    with contextlib.redirect_stdout(log), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            dynamic_shapes = tuple({0: torch.export.Dim.DYNAMIC} for _ in args) if dynamic else None
            torch.onnx.export(
                model, args, str(path), dynamo=True, input_names=input_names, output_names=output_names,
                dynamic_shapes=dynamic_shapes, opset_version=opset, external_data=True,
            )  # fmt: skip
        else:
            axes = {name: {0: "batch"} for name in input_names + output_names} if dynamic else None
            torch.onnx.export(
                model, args, str(path), dynamo=False, input_names=input_names, output_names=output_names,
                dynamic_axes=axes, opset_version=min(opset, 20),
            )  # fmt: skip


def import_torch(kind: str, model: str, work_dir: Path, options: PrepareOptions) -> Source:
    torch = _torch()
    specs = list(options.inputs)
    batch, reference_batch = EXPORT_BATCH, None
    program = None
    if kind == "factory":
        module = load_factory(model)
    elif kind == "torchscript":
        module = load_torchscript(Path(model))
    else:
        program = load_exported_program(Path(model))
        module = program.module()
        own_specs, fixed = _exported_program_inputs(program)
        specs = specs or own_specs
        if fixed is not None:
            batch = reference_batch = fixed  # the program only runs at its own batch
    if not specs:
        raise UsageError(
            "a PyTorch model carries no input signature: give --input NAME:D1,D2[:DTYPE] per forward() "
            "argument, batch dimension left out (e.g. --input x:3,224,224)"
        )
    input_names = [s.name for s in specs]
    feeds = example_inputs(specs, batch, options.seed)
    args = tuple(torch.from_numpy(feeds[n]) for n in input_names)
    try:
        with torch.inference_mode():
            outputs = _flatten(module(*args))
    except ModelError:
        raise
    except Exception as error:
        shown = ", ".join(f"{n} {list(feeds[n].shape)} {feeds[n].dtype}" for n in input_names)
        raise ModelError(
            f"the model does not accept the example inputs ({shown}): {error_text(error)}: "
            "fix --input shapes/dtypes (batch dimension left out)"
        ) from None
    output_names = ["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]
    path = work_dir / "exported.onnx"
    notes: list[str] = []
    exported_by = None
    attempts = [True, False] if kind == "factory" else ([True] if kind == "exported_program" else [False])
    failures = []
    for dynamo in attempts:
        try:
            _export(
                program if program is not None else module, args, path, input_names, output_names,
                options.opset, dynamo=dynamo, dynamic=program is None,
            )  # fmt: skip
            exported_by = "dynamo" if dynamo else "torchscript"
            break
        except Exception as error:
            failures.append(f"{'dynamo' if dynamo else 'torchscript'} exporter: {error_text(error)}")
    if exported_by is None:
        raise ModelError(f"ONNX export failed ({'; '.join(failures)}): simplify the model or export it yourself")
    notes.extend(f"{failure} (fell back)" for failure in failures)
    notes.append(f"exported with the {exported_by} exporter at batch {batch}, opset {options.opset}")
    onnx_outputs = [o.name for o in load_onnx(path).graph.output]
    if len(onnx_outputs) != len(output_names):
        raise ModelError(
            f"the ONNX export has {len(onnx_outputs)} outputs but the model returns {len(output_names)}: "
            "return only tensors the model computes"
        )
    return Source(
        kind,
        path,
        torch_runner(module, input_names, onnx_outputs),
        f"the PyTorch model ({kind}) on PyTorch {torch.__version__}",
        reference_batch=reference_batch,
        notes=notes,
    )
