"""The runner's IO-binding path gives the numpy path's outputs, simulated with CPU OrtValues.

ONNX Runtime binds CPU memory as it binds GPU memory, so the GPU path's bookkeeping (bound
inputs, outputs left as OrtValues, DLPack in and out, CUDA-graph buffers per shape) runs here
on the CPU; only the device itself differs on a GPU host. Triton is a fake ``pb_utils``.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from tritune.runner.device import DeviceFeed, concatenate, feed_from_dlpack, split_device
from tritune.runner.runtimes import Device
from tritune.runner.runtimes.ort import OnnxRuntimeRuntime
from tritune.runner.runtimes.ort_binding import MAX_GRAPHS, BoundRunner
from tritune.runner.runtimes.ort_options import IoPlan
from tritune.testing.models import mlp_model

WIDTH = 8


@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("mlp") / "model.onnx", width=WIDTH)


def _batch(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, WIDTH)).astype(np.float32)


def test_the_cpu_default_is_the_numpy_path_and_binding_gives_the_same_outputs(mlp: Path) -> None:
    plain = OnnxRuntimeRuntime(str(mlp), {}, Device())
    bound = OnnxRuntimeRuntime(str(mlp), {"io_binding": "host"}, Device())
    assert not plain.plan.binding and bound.plan.binding
    assert "numpy in and out" in plain.describe() and "IO binding" in bound.describe()
    for rows in (1, 3, 16):
        x = _batch(rows, rows)
        np.testing.assert_array_equal(bound.run({"x": x})["y"], plain.run({"x": x})["y"])


def _runner(mlp: Path, plan: IoPlan) -> tuple[ort.InferenceSession, BoundRunner]:
    session = ort.InferenceSession(str(mlp), providers=["CPUExecutionProvider"])
    return session, BoundRunner(session, ["y"], plan, "cpu", 0)


def test_outputs_left_on_the_device_are_ortvalues_with_the_same_values(mlp: Path) -> None:
    session, runner = _runner(mlp, IoPlan(binding=True, outputs_on_device=True))
    x = _batch(5)
    (expected,) = session.run(["y"], {"x": x})
    value = runner.run({"x": x})["y"]
    assert isinstance(value, ort.OrtValue)
    np.testing.assert_array_equal(value.numpy(), expected)


def test_cuda_graph_bookkeeping_keeps_one_set_of_buffers_per_shape(mlp: Path, monkeypatch) -> None:
    session, runner = _runner(mlp, IoPlan(binding=True, cuda_graph=True))
    monkeypatch.setattr("tritune.runner.runtimes.ort_binding.MAX_GRAPHS", 2)
    for rows, seed in ((2, 0), (2, 1), (4, 2), (2, 3), (8, 4), (8, 5)):
        x = _batch(rows, seed)
        (expected,) = session.run(["y"], {"x": x})
        np.testing.assert_allclose(np.asarray(runner.run({"x": x})["y"]), expected, rtol=1e-6)
    assert len(runner._graphs) == 2 and runner.graph_error is None  # the third shape runs uncaptured
    assert MAX_GRAPHS >= 32


def test_a_failing_replay_gives_up_graphs_and_still_answers(mlp: Path) -> None:
    session, runner = _runner(mlp, IoPlan(binding=True, cuda_graph=True))
    x = _batch(3)
    runner.run({"x": x})
    next(iter(runner._graphs.values())).inputs.clear()  # a replay now fails (KeyError)
    (expected,) = session.run(["y"], {"x": x})
    np.testing.assert_array_equal(np.asarray(runner.run({"x": x})["y"].numpy()), expected)
    assert runner.graph_error is not None and not runner._graphs


def test_dlpack_inputs_are_taken_without_a_copy_and_joined(mlp: Path) -> None:
    source = ort.OrtValue.ortvalue_from_numpy(_batch(2))
    feed = feed_from_dlpack(source._ortvalue.to_dlpack)
    assert isinstance(feed, DeviceFeed) and feed.shape == (2, WIDTH) and feed.dtype == np.float32
    other = feed_from_dlpack(ort.OrtValue.ortvalue_from_numpy(_batch(3, 1))._ortvalue.to_dlpack)
    assert other is not None
    joined = concatenate([feed, other])
    np.testing.assert_array_equal(joined.host(), np.concatenate([_batch(2), _batch(3, 1)]))
    session, runner = _runner(mlp, IoPlan(binding=True))
    (expected,) = session.run(["y"], {"x": joined.host()})
    np.testing.assert_allclose(runner.run({"x": joined})["y"].numpy(), expected, rtol=1e-6)


def test_device_outputs_split_per_request_as_views() -> None:
    value = ort.OrtValue.ortvalue_from_numpy(np.arange(12, dtype=np.float32).reshape(6, 2))
    pieces = split_device({"y": value}, [1, 2, 3])
    assert pieces is not None
    assert [np.from_dlpack(p["y"]).tolist() for p in pieces] == [[[0, 1]], [[2, 3], [4, 5]], [[6, 7], [8, 9], [10, 11]]]
    assert split_device({"y": value}, [2, 2]) is None  # rows lost: the host split names the fix


# --- the Triton model itself, with a fake pb_utils -------------------------------------------


class _Tensor:
    def __init__(self, name: str, array: Any, on_cpu: bool = True) -> None:
        self.name, self.array, self.on_cpu = name, np.asarray(array), on_cpu

    def is_cpu(self) -> bool:
        return self.on_cpu

    def as_numpy(self) -> np.ndarray:
        assert self.on_cpu, "as_numpy() on a GPU tensor"
        return self.array

    def to_dlpack(self) -> Any:
        return self.array.__dlpack__()

    @classmethod
    def from_dlpack(cls, name: str, source: Any) -> _Tensor:
        return cls(name, np.from_dlpack(source).copy())


class _Response:
    def __init__(self, output_tensors: list[_Tensor] | None = None, error: Any = None) -> None:
        self.output_tensors, self.error = output_tensors or [], error


@pytest.fixture
def triton_model(monkeypatch) -> Any:
    fake = types.ModuleType("triton_python_backend_utils")
    fake.Tensor = _Tensor  # type: ignore[attr-defined]
    fake.InferenceResponse = _Response  # type: ignore[attr-defined]
    fake.TritonError = str  # type: ignore[attr-defined]
    fake.TritonModelException = RuntimeError  # type: ignore[attr-defined]
    fake.get_input_tensor_by_name = lambda request, name: request.get(name)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", fake)
    monkeypatch.delitem(sys.modules, "tritune.runner.triton_model", raising=False)
    return importlib.import_module("tritune.runner.triton_model")


def _model(module: Any, mlp: Path, parameters: dict[str, str]) -> Any:
    config = {
        "max_batch_size": 16,
        "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": [WIDTH]}],
        "output": [{"name": "y", "data_type": "TYPE_FP32", "dims": [WIDTH]}],
        "parameters": {k: {"string_value": v} for k, v in parameters.items()},
    }
    model = module.TritonPythonModel()
    args = {"model_config": json.dumps(config), "model_repository": str(mlp.parent.parent), "model_version": "1"}
    model.initialize(args | {"model_repository": str(mlp.parent), "model_version": "."})
    return model


@pytest.mark.parametrize("device_outputs", [False, True])
@pytest.mark.parametrize("gpu_inputs", [False, True])
def test_every_path_answers_each_request_as_the_numpy_path_does(
    triton_model: Any, mlp: Path, capsys, device_outputs: bool, gpu_inputs: bool
) -> None:
    reference = _model(triton_model, mlp, {})
    model = _model(triton_model, mlp, {"io_binding": "host"})
    assert "IO binding" in capsys.readouterr().out  # the path is logged once per instance
    model.device_outputs = device_outputs  # outputs as OrtValues, split and sent by DLPack
    batches = [_batch(rows, rows) for rows in (1, 3, 2)]
    requests = [{"x": _Tensor("x", b, on_cpu=not gpu_inputs)} for b in batches]
    expected = reference.execute([{"x": _Tensor("x", b)} for b in batches])
    for got, want in zip(model.execute(requests), expected, strict=True):
        assert got.error is None
        np.testing.assert_allclose(got.output_tensors[0].array, want.output_tensors[0].array, rtol=1e-6)
    model.finalize()
