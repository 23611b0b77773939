"""The Triton Python-backend model: Triton plumbing only.

Every request of one ``execute()`` call that can be concatenated runs as one batched
runtime call; the outputs are split back per request. A failing group answers its own
requests with an error and leaves the others alone.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # provided by the Python-backend stub

from .batching import BatchGroup, group_requests, merge_feeds, split_outputs
from .dtypes import numpy_dtype
from .runtimes import Device, create_runtime


def _parameters(model_config: dict[str, Any]) -> dict[str, str]:
    raw = model_config.get("parameters") or {}
    return {key: str(value.get("string_value", "")) for key, value in raw.items()}


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.max_batch_size = int(config.get("max_batch_size", 0))
        self.inputs = {t["name"]: numpy_dtype(t["data_type"]) for t in config.get("input", [])}
        self.outputs = {t["name"]: numpy_dtype(t["data_type"]) for t in config.get("output", [])}
        options = _parameters(config)
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        model_path = os.path.join(version_dir, options.get("model_filename") or "model.onnx")
        if not os.path.isfile(model_path):
            raise pb_utils.TritonModelException(
                f"model file {model_path} not found: deploy the model file into the version directory"
            )
        kind = "GPU" if args.get("model_instance_kind") == "GPU" else "CPU"
        device = Device(kind=kind, device_id=int(args.get("model_instance_device_id") or 0))
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

    def _read(self, request: Any) -> dict[str, np.ndarray]:
        feeds = {}
        for name in self.inputs:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"request has no input {name!r}")
            feeds[name] = tensor.as_numpy()
        return feeds

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        feeds: list[dict[str, np.ndarray]] = []
        readable: list[int] = []
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
                outputs = self.runtime.run(merge_feeds(feeds, group))
                per_request = split_outputs(outputs, group.batch_sizes) if self.max_batch_size > 0 else [outputs]
                for original, result in zip(originals, per_request, strict=True):
                    tensors = [
                        pb_utils.Tensor(name, np.ascontiguousarray(result[name], dtype=dtype))
                        for name, dtype in self.outputs.items()
                    ]
                    responses[original] = pb_utils.InferenceResponse(output_tensors=tensors)
            except Exception as error:  # noqa: BLE001 - each request gets the error
                for original in originals:
                    responses[original] = pb_utils.InferenceResponse(
                        error=pb_utils.TritonError(f"{type(error).__name__}: {error}")
                    )
        return responses

    def finalize(self) -> None:
        runtime = getattr(self, "runtime", None)
        if runtime is not None:
            runtime.close()
