"""The GPU path on the real embedded Triton: run on a GPU host (tools/gpu_host/run.sh tests), skipped only
where this host shows no GPU or its onnxruntime has no CUDA provider."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tritune.domain.serving import DynamicBatching, RunnerOptions, ServingConfig
from tritune.system import list_gpus
from tritune.testing.models import mlp_model
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.probe import probe_server_python
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

CUDA = "CUDAExecutionProvider"
pytestmark = [
    pytest.mark.triton,
    pytest.mark.gpu,
    pytest.mark.skipif(
        not list_gpus() or CUDA not in ort.get_available_providers(),
        reason="no GPU here, or this onnxruntime has no CUDA provider (install onnxruntime-gpu)",
    ),
]

IO_PATHS = {
    "dlpack": RunnerOptions(io_binding="device"),
    "host": RunnerOptions(io_binding="host"),
    "numpy": RunnerOptions(io_binding="off"),
    "graph": RunnerOptions(cuda_graph=True),
}


@pytest.fixture(scope="module")
def gpu_mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mlp_model(tmp_path_factory.mktemp("gpu") / "mlp.onnx", width=64, depth=2)


def test_the_server_python_sees_the_cuda_provider(
    triton_server: EmbeddedTriton, control: ModelControl, triton_repo: Path
) -> None:
    served = probe_server_python(control, triton_server.endpoints, triton_repo)
    assert CUDA in served.providers


@pytest.mark.parametrize("path", sorted(IO_PATHS))
def test_every_io_path_answers_as_the_cpu_does(
    path: str, gpu_mlp: Path, triton_server: EmbeddedTriton, control: ModelControl, triton_repo: Path
) -> None:
    name = f"gpu_{path}"
    deploy_onnx(triton_repo, name, gpu_mlp, ServingConfig(8, 1, "KIND_GPU", DynamicBatching(200), IO_PATHS[path]))
    control.load(name)
    reference = ort.InferenceSession(str(gpu_mlp), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    # Requests of several batch sizes at once: the dynamic batcher merges them, the runner
    # splits the outputs back, and each request must get its own rows (twice: a CUDA graph
    # is captured on a shape's first run and replayed on the next).
    batches = [rng.standard_normal((rows, 64)).astype(np.float32) for rows in (1, 3, 2, 1, 3, 2, 1, 3)]
    client = InferClient(triton_server.endpoints)
    try:
        with ThreadPoolExecutor(max_workers=len(batches)) as pool:
            for _ in range(2):
                answers = list(pool.map(lambda x: client.infer(name, {"x": x})["y"], batches))
                for x, y in zip(batches, answers, strict=True):
                    (expected,) = reference.run(["y"], {"x": x})
                    np.testing.assert_allclose(y, expected, rtol=1e-3, atol=1e-3)
    finally:
        client.close()
        control.unload(name)


def test_prepare_sweeps_and_serves_on_the_gpu(gpu_mlp: Path, tmp_path: Path) -> None:
    out = tmp_path / "repo"
    command = [sys.executable, "-m", "tritune", "prepare", str(gpu_mlp), "-o", str(out), "--max-batch-cap", "64"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    config = (out / "mlp" / "config.pbtxt").read_text()
    assert "KIND_GPU" in config
    report = json.loads((out / "mlp" / "prepare_report.json").read_text())
    assert "the max-batch search ran on the GPU (CUDAExecutionProvider)" in report["notes"]
