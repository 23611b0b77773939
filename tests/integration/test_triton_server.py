"""The embedded Triton, the runner backend and the repository writer, end to end."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import psutil
import pytest

from tritune.domain.serving import ServingConfig, default_serving_config
from tritune.testing.processes import wait_until_gone
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import build_model_config, read_signature
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton

pytestmark = pytest.mark.triton


def _zoo_feeds(batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "x": rng.standard_normal((batch, 4)).astype(np.float32),
        "idx": rng.integers(-1000, 1000, (batch, 3)).astype(np.int64),
        "h": rng.standard_normal((batch, 2)).astype(np.float16),
        "i32": rng.integers(-50, 50, (batch, 2)).astype(np.int32),
        "mask": rng.integers(0, 2, (batch, 2)).astype(bool),
    }


def _direct(model: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


@pytest.fixture(scope="module")
def zoo_deployed(triton_server: EmbeddedTriton, control: ModelControl, dtype_zoo_onnx: Path) -> str:
    deploy_onnx(triton_server.model_repository, "zoo", dtype_zoo_onnx)
    control.load("zoo")
    return "zoo"


@pytest.fixture(scope="module")
def minilm_deployed(triton_server: EmbeddedTriton, control: ModelControl, minilm_onnx: Path) -> str:
    deploy_onnx(triton_server.model_repository, "minilm", minilm_onnx)
    control.load("minilm")
    return "minilm"


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("batch", [1, 8])
def test_every_dtype_matches_onnxruntime(
    triton_server: EmbeddedTriton, zoo_deployed: str, dtype_zoo_onnx: Path, protocol: str, batch: int
) -> None:
    feeds = _zoo_feeds(batch, np.random.default_rng(batch))
    expected = _direct(dtype_zoo_onnx, feeds)
    with InferClient(triton_server.endpoints, protocol) as client:
        got = client.infer(zoo_deployed, feeds)
    assert set(got) == set(expected)
    for name, want in expected.items():
        assert got[name].dtype == want.dtype, name
        assert got[name].shape == want.shape, name
        np.testing.assert_allclose(got[name], want, rtol=0, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("batch", [1, 8])
def test_minilm_matches_onnxruntime(
    triton_server: EmbeddedTriton, minilm_deployed: str, minilm_onnx: Path, protocol: str, batch: int
) -> None:
    rng = np.random.default_rng(7)
    feeds = {
        "input_ids": rng.integers(100, 30000, (batch, 24)).astype(np.int64),
        "attention_mask": np.ones((batch, 24), np.int64),
        "token_type_ids": np.zeros((batch, 24), np.int64),
    }
    expected = _direct(minilm_onnx, feeds)["last_hidden_state"]
    with InferClient(triton_server.endpoints, protocol) as client:
        got = client.infer(minilm_deployed, feeds)["last_hidden_state"]
    assert got.shape == (batch, 24, 384)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("buckets", ["", "pow2", "max"])
def test_concurrent_requests_are_batched_and_split_back(
    triton_server: EmbeddedTriton, control: ModelControl, dtype_zoo_onnx: Path, buckets: str
) -> None:
    """With a queue delay, concurrent requests reach one execute(); each still gets its own rows,
    also where the runner pads the batch to a bucket size (the GPU default) and drops the rest."""
    import concurrent.futures

    from tritune.domain.serving import DynamicBatching, RunnerOptions

    signature = read_signature(dtype_zoo_onnx)
    serving = ServingConfig(
        max_batch_size=16,
        dynamic_batching=DynamicBatching(max_queue_delay_us=20000),
        runner=RunnerOptions(batch_buckets=buckets),
    )
    model = f"zoo_batched_{buckets or 'default'}"
    deploy_onnx(triton_server.model_repository, model, dtype_zoo_onnx, serving)
    control.load(model)
    requests = [_zoo_feeds(b, np.random.default_rng(100 + b)) for b in (1, 2, 3, 1, 2, 1)]
    warmed = control.statistics(model)["model_stats"][0]  # Triton's warm-up, as it loaded the model

    def send(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with InferClient(triton_server.endpoints, "grpc") as client:
            return client.infer(model, feeds)

    with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(send, requests))
    for feeds, got in zip(requests, results, strict=True):
        want = _direct(dtype_zoo_onnx, feeds)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-5)
    stats = control.statistics(model)["model_stats"][0]
    assert int(stats["inference_count"]) - int(warmed["inference_count"]) == sum(f["x"].shape[0] for f in requests)
    # Fewer executions than requests proves that requests were merged into shared runs.
    assert int(stats["execution_count"]) - int(warmed["execution_count"]) < len(requests)
    assert signature.batch_is_dynamic


def test_reload_with_new_instance_count_without_restart(
    triton_server: EmbeddedTriton, control: ModelControl, dtype_zoo_onnx: Path
) -> None:
    deployed = deploy_onnx(triton_server.model_repository, "zoo_reload", dtype_zoo_onnx)
    pid = triton_server.server_pid()
    control.load("zoo_reload")
    assert control.config("zoo_reload")["instance_group"][0]["count"] == 1
    signature = read_signature(dtype_zoo_onnx)
    changed = build_model_config(
        "zoo_reload", signature, ServingConfig(**{**default_serving_config(signature).__dict__, "instance_count": 2})
    )
    control.load("zoo_reload", changed)
    assert control.config("zoo_reload")["instance_group"][0]["count"] == 2
    assert triton_server.server_pid() == pid and triton_server.is_alive()
    # The old instance's stub exits shortly after the new ones are up.
    assert _eventually(lambda: len(_stubs_of(triton_server, "zoo_reload")) == 2), "two instances, two stubs"
    with InferClient(triton_server.endpoints, "http") as client:
        got = client.infer("zoo_reload", _zoo_feeds(2, np.random.default_rng(0)))
    assert got["y"].shape == (2, 3)
    assert deployed.config_path.is_file()


def _stubs_of(server: EmbeddedTriton, model: str) -> list[psutil.Process]:
    stubs = []
    for child in psutil.Process(server.server_pid()).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE and f"/{model}/" in " ".join(child.cmdline()):
                stubs.append(child)
    return stubs


def _eventually(condition: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_two_servers_side_by_side(tmp_path: Path, dtype_zoo_onnx: Path) -> None:
    repos = [tmp_path / "a", tmp_path / "b"]
    for repo in repos:
        deploy_onnx(repo, "zoo", dtype_zoo_onnx)
    feeds = _zoo_feeds(2, np.random.default_rng(5))
    with (
        EmbeddedTriton(repos[0], load_models=["zoo"]) as first,
        EmbeddedTriton(repos[1], load_models=["zoo"]) as second,
    ):
        assert first.endpoints.http != second.endpoints.http
        assert first.endpoints.grpc != second.endpoints.grpc
        for server in (first, second):
            with InferClient(server.endpoints, "grpc") as client:
                np.testing.assert_allclose(
                    client.infer("zoo", feeds)["y"], _direct(dtype_zoo_onnx, feeds)["y"], atol=1e-5
                )
    for repo in repos:
        assert wait_until_gone(str(repo)) == []


def test_remote_mode_uses_a_running_server_by_url(triton_server: EmbeddedTriton, zoo_deployed: str) -> None:
    from tritune.triton.server import RemoteTriton

    with RemoteTriton(triton_server.endpoints.http, grpc_url=triton_server.endpoints.grpc) as remote:
        assert remote.is_alive()
        with ModelControl(remote) as remote_control:
            assert remote_control.is_ready(zoo_deployed)
            assert remote_control.config(zoo_deployed)["max_batch_size"] == 8
        with InferClient(remote.endpoints, "grpc") as client:
            assert client.infer(zoo_deployed, _zoo_feeds(3, np.random.default_rng(1)))["y"].shape == (3, 3)


def test_remote_mode_names_an_unreachable_server() -> None:
    from tritune.errors import ServerError
    from tritune.triton.server import RemoteTriton, pick_free_ports

    (port,) = pick_free_ports(1)
    with pytest.raises(ServerError, match=f"cannot reach Triton at http://127.0.0.1:{port}"):
        RemoteTriton(f"127.0.0.1:{port}").__enter__()
    with pytest.raises(ServerError, match="host:port"):
        RemoteTriton("not a url")


def test_phase_timing_says_where_execute_spends_its_time(
    triton_server: EmbeddedTriton, control: ModelControl, dtype_zoo_onnx: Path, zoo_deployed: str
) -> None:
    # A report due after every execute(): each request below adds one line for this model; the
    # zoo deployed without the option adds none, and the answers are the same as without it.
    base = default_serving_config(read_signature(dtype_zoo_onnx))
    serving = dataclasses.replace(base, runner=dataclasses.replace(base.runner, phase_timing_s=1e-9))
    deploy_onnx(triton_server.model_repository, "zoo_phases", dtype_zoo_onnx, serving)
    control.load("zoo_phases")
    feeds = _zoo_feeds(3, np.random.default_rng(3))
    with InferClient(triton_server.endpoints) as client:
        for _ in range(3):
            got = client.infer("zoo_phases", feeds)
        plain = client.infer(zoo_deployed, feeds)
    for name, want in plain.items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)
    log = triton_server.log_file
    assert log is not None

    def lines(model: str, rows: int | None = None) -> list[str]:
        # Triton's warm-up as it loaded the model reports too, at its batch sizes (1, 2, 4, 8).
        wanted = f"tritune runner phases {model}:" + (
            "" if rows is None else f" 1 executions, 1 requests, {rows} rows;"
        )
        return [line for line in log.read_text().splitlines() if wanted in line]

    deadline = time.monotonic() + 30  # the stub's log lines reach the file through the server
    while len(lines("zoo_phases", rows=3)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    reports = lines("zoo_phases", rows=3)
    assert len(reports) == 3, reports
    assert all("1 executions, 1 requests, 3 rows; per execution read " in line for line in reports), reports
    assert len(lines("zoo_phases")) == 3 + 4  # and one report per warm-up sample
    for phase in ("read", "merge", "pad", "run", "respond"):
        assert f" {phase} " in reports[0], reports[0]
    assert lines("zoo") == []


def test_a_config_refused_without_auto_complete_is_named_by_its_reason(
    triton_server: EmbeddedTriton, triton_repo: Path, control: ModelControl
) -> None:
    """tritune's own servers run without auto-complete, where Triton answers a refused config
    with "failed to poll from model repository": the error carries the reason Triton logged."""
    from tritune.errors import ModelLoadError

    model = triton_repo / "refused_scalar"
    (model / "1").mkdir(parents=True)
    (model / "1" / "model.py").write_text(
        "class TritonPythonModel:\n    def execute(self, requests):\n        return []\n"
    )
    (model / "config.pbtxt").write_text(
        'name: "refused_scalar"\nbackend: "python"\nmax_batch_size: 0\n'
        'input [{name: "x", data_type: TYPE_FP32, dims: [1], reshape: {}}]\n'
        'output [{name: "y", data_type: TYPE_FP32, dims: [1]}]\n'
    )
    with pytest.raises(ModelLoadError) as refused:
        control.load("refused_scalar")
    assert "--disable-auto-complete-config" in " ".join(psutil.Process(triton_server.server_pid()).cmdline())
    assert refused.value.message == (
        "model 'refused_scalar' failed to load: model input 'x' cannot have empty reshape for non-batching "
        "model as scalar tensors are not supported for refused_scalar"
    )
