"""The Triton Python-backend model: Triton plumbing only.

Every request of one ``execute()`` call that can be concatenated runs as one batched
runtime call; the outputs are split back per request. A failing group answers its own
requests with an error and leaves the others alone.
"""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # provided by the Python-backend stub

from .batching import BatchGroup, bucket_mode, group_requests, merge_feeds, padded_rows, split_outputs
from .device import as_host, concatenate, feed_from_dlpack, output_dtype, pad_rows, split_device
from .dtypes import numpy_dtype
from .phases import PhaseClock
from .pinned import pin
from .runtimes import Device, create_runtime
from .staging import STAGING_MODES, StagingBuffers


def _parameters(model_config: dict[str, Any]) -> dict[str, str]:
    raw = model_config.get("parameters") or {}
    return {key: str(value.get("string_value", "")) for key, value in raw.items()}


def _shape_options(config: dict[str, Any]) -> dict[str, str]:
    """The batch range and inner dims a runtime may plan for (TensorRT's optimization profile)."""
    dims = ";".join(f"{t['name']}:{'x'.join(str(d) for d in t.get('dims', []))}" for t in config.get("input", []))
    return {"max_batch_size": str(config.get("max_batch_size", 0)), "input_dims": dims}


def _log(message: str) -> None:
    """To the server log: pb_utils.Logger where this Triton has it, else the stub's stdout."""
    logger = getattr(pb_utils, "Logger", None)
    if logger is not None:
        logger.log_info(message)
    else:
        print(message, flush=True)


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.max_batch_size = int(config.get("max_batch_size", 0))
        self.inputs = {t["name"]: numpy_dtype(t["data_type"]) for t in config.get("input", [])}
        self.outputs = {t["name"]: numpy_dtype(t["data_type"]) for t in config.get("output", [])}
        options = _shape_options(config) | _parameters(config)
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        model_path = os.path.join(version_dir, options.get("model_filename") or "model.onnx")
        if not os.path.isfile(model_path):
            raise pb_utils.TritonModelException(
                f"model file {model_path} not found: deploy the model file into the version directory"
            )
        kind = "GPU" if args.get("model_instance_kind") == "GPU" else "CPU"
        device = Device(kind=kind, device_id=int(args.get("model_instance_device_id") or 0))
        # Padding to a few batch sizes is the GPU default (see batching.BUCKET_MODES for why);
        # the runtime reads the same option to keep one session per size.
        buckets = bucket_mode(options.get("batch_buckets"), gpu=kind == "GPU", max_batch_size=self.max_batch_size)
        padded_rows(1, self.max_batch_size, buckets)  # an unknown mode fails the load, naming the modes
        self.buckets = options["batch_buckets"] = buckets
        self.runtime = create_runtime(options.get("runtime") or "onnxruntime", model_path, options, device)
        for role, declared, actual in (
            ("input", self.inputs, self.runtime.input_names),
            ("output", self.outputs, self.runtime.output_names),
        ):
            unknown = [name for name in declared if name not in actual]
            if unknown:
                raise pb_utils.TritonModelException(
                    f"config.pbtxt {role}(s) {', '.join(unknown)} not in {os.path.basename(model_path)}, whose "
                    f"{role}s are {', '.join(actual)}: fix the names in config.pbtxt"
                )
        # Tensors the model holds as scalars that a non-batching config serves as [1] (Triton has
        # no scalar tensors there): [1] -> [] on the way in, [] -> [1] on the way out.
        self.scalars = {n.strip() for n in options.get("scalar_tensors", "").split(",") if n.strip()}
        self.device_outputs = bool(getattr(self.runtime, "outputs_on_device", False)) and not self.scalars
        self._said: set[str] = set()
        # host_staging: batches joined and padded in one copy into reused buffers, page-locked on
        # a GPU instance (runner/staging.py, runner/pinned.py); "unpinned" and "off" are for A/B runs.
        staging = (options.get("host_staging") or "on").strip().lower()
        if staging not in STAGING_MODES:
            raise pb_utils.TritonModelException(
                f"host_staging {staging!r} is not one of {', '.join(STAGING_MODES)}: fix the parameter in config.pbtxt"
            )
        pin_buffers = pin if kind == "GPU" and staging == "on" else None
        self.staging = StagingBuffers(pin_buffers) if staging != "off" else None
        # phase_timing: seconds between the server-log lines saying where execute()'s time goes.
        every = float(options.get("phase_timing") or 0)
        self.clock = PhaseClock(str(args.get("model_name", "")), every) if every > 0 else None
        describe = getattr(self.runtime, "describe", None)
        self._once(f"tritune runner {args.get('model_name', '')}: {describe() if describe else 'numpy in and out'}")

    def _once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            _log(message)

    def _read(self, request: Any) -> dict[str, np.ndarray]:
        feeds = {}
        for name in self.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"request has no input {name!r}")
            feeds[name] = self._take(tensor)
            if name in self.scalars:
                feeds[name] = feeds[name].reshape(())
        return feeds

    def _take(self, tensor: Any) -> Any:
        """A host input as numpy (no copy); a GPU input by DLPack, copied to the host only where
        neither ONNX Runtime nor torch can take it (as_numpy() refuses GPU tensors)."""
        if getattr(tensor, "is_cpu", lambda: True)():
            return tensor.as_numpy()
        feed = feed_from_dlpack(tensor.to_dlpack)
        if feed is None:
            raise ValueError("a GPU input arrived but neither onnxruntime nor torch can import DLPack here")
        return feed

    def _phase(self, name: str) -> AbstractContextManager[None]:
        return self.clock.phase(name) if self.clock is not None else nullcontext()

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        feeds: list[dict[str, np.ndarray]] = []
        readable: list[int] = []
        rows_run = 0
        with self._phase("read"):
            for index, request in enumerate(requests):
                try:
                    feeds.append(self._read(request))
                    readable.append(index)
                except Exception as error:  # noqa: BLE001 - reported to the client
                    responses[index] = pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error)))
        if self.max_batch_size > 0:
            groups = group_requests(feeds)
        else:  # no batch dimension: each request runs on its own
            groups = [BatchGroup((i,), (1,)) for i in range(len(feeds))]
        for group in groups:
            originals = [readable[i] for i in group.request_indices]
            try:
                sizes = group.batch_sizes if self.max_batch_size > 0 else (1,)
                rows = sum(sizes)
                extra = padded_rows(rows, self.max_batch_size, self.buckets) - rows
                merged = self._merge(feeds, group, extra)
                if extra > 0:  # the padding rows' outputs are the last piece, dropped
                    sizes = (*sizes, extra)
                rows_run += rows + max(extra, 0)
                pieces = self._run(merged, sizes)[: len(originals)]
                with self._phase("respond"):
                    for original, tensors in zip(originals, pieces, strict=True):
                        responses[original] = pb_utils.InferenceResponse(output_tensors=tensors)
            except Exception as error:  # noqa: BLE001 - each request gets the error
                for original in originals:
                    responses[original] = pb_utils.InferenceResponse(
                        error=pb_utils.TritonError(f"{type(error).__name__}: {error}")
                    )
        if self.clock is not None:
            line = self.clock.executed(len(requests), rows_run)
            if line:
                _log(line)
        return responses

    def _merge(self, feeds: list[dict[str, Any]], group: BatchGroup, extra: int) -> dict[str, Any]:
        """The group's inputs as one batch with ``extra`` padding rows: host arrays in one copy
        into the staging buffers (runner/staging.py), device tensors joined then padded."""
        members = [feeds[i] for i in group.request_indices]
        on_host = all(isinstance(v, np.ndarray) for m in members for v in m.values())
        if self.staging is not None and on_host and (len(members) > 1 or extra > 0):
            with self._phase("merge"):
                staged = {name: self.staging.stage(name, [m[name] for m in members], extra) for name in members[0]}
            if self.staging.pinned:
                self._once("tritune runner: batches staged in page-locked host buffers")
            return staged
        with self._phase("merge"):
            merged = merge_feeds(feeds, group, concatenate)
        if extra > 0:
            with self._phase("pad"):
                merged = {name: pad_rows(value, extra) for name, value in merged.items()}
        return merged

    def _run(self, merged: dict[str, Any], sizes: tuple[int, ...]) -> list[list[Any]]:
        """Each request's output tensors: from the device by DLPack where the runtime leaves
        them there and the declared types match, else from numpy as before."""
        if self.device_outputs:
            with self._phase("run"):
                outputs = self.runtime.run_values(merged)  # type: ignore[attr-defined]
            mismatched = [n for n, dtype in self.outputs.items() if output_dtype(outputs[n]) != dtype]
            pieces = None if mismatched else split_device(outputs, sizes)
            if pieces is not None:
                with self._phase("respond"):
                    return [[pb_utils.Tensor.from_dlpack(n, piece[n]) for n in self.outputs] for piece in pieces]
            self._once("tritune runner: outputs copied to the host to split (torch not importable, or types differ)")
            host = {name: as_host(value) for name, value in outputs.items()}
        else:
            with self._phase("run"):
                host = self.runtime.run(merged)
        graph_error = getattr(self.runtime, "graph_error", None)
        if graph_error:
            self._once(f"tritune runner: CUDA graphs given up, running uncaptured ({graph_error})")
        if self.scalars:
            host = {n: v.reshape(1) if n in self.scalars else v for n, v in host.items()}
        with self._phase("respond"):
            per_request = split_outputs(host, sizes) if self.max_batch_size > 0 else [host]
            return [
                [pb_utils.Tensor(n, np.ascontiguousarray(result[n], dtype=dtype)) for n, dtype in self.outputs.items()]
                for result in per_request
            ]

    def finalize(self) -> None:
        runtime = getattr(self, "runtime", None)
        if runtime is not None:
            runtime.close()
