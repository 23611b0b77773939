"""``tritune infer MODEL.onnx``: deploy a model on the embedded Triton and run inferences."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np

from tritune.cli import options
from tritune.cli.app import App
from tritune.domain.names import check_model_name, default_model_name
from tritune.inputs import parse_shape_options, request_feeds
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import read_signature
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@options.model_name
@options.batch_size
@options.shapes
@options.protocol
@options.input_data
@click.option("-n", "--requests", default=20, show_default=True, type=click.IntRange(min=1))
@options.tritonserver
@click.pass_obj
def infer(
    app: App,
    model: Path,
    name: str | None,
    batch_size: int,
    shapes: tuple[str, ...],
    protocol: str,
    input_data: str,
    requests: int,
    tritonserver: str | None,
) -> None:
    """Deploy MODEL (an .onnx file) on the embedded Triton, infer, print outputs and latency.

    With an --input-data file, every request sends its first batch of samples."""
    overrides = parse_shape_options(shapes)
    signature = read_signature(model)
    name = check_model_name(name or default_model_name(model))
    with tempfile.TemporaryDirectory(prefix="tritune-infer-") as repo:
        deployed = deploy_onnx(repo, name, model, share=True)  # a repository of its own, gone after
        batched = deployed.config.max_batch_size > 0
        feeds = request_feeds(signature, batch_size, overrides, batched, input_data)[0]
        app.info(f"starting the embedded Triton for {model} ...")
        started = time.perf_counter()
        with (
            EmbeddedTriton(repo, tritonserver=tritonserver, auto_complete=False) as server,
            ModelControl(server) as control,
        ):
            endpoint = server.endpoints.grpc if protocol == "grpc" else server.endpoints.http
            ready_s = time.perf_counter() - started
            app.info(f"server ready in {ready_s:.2f} s at {endpoint} ({'gRPC' if protocol == 'grpc' else 'HTTP'})")
            load_s = control.load(name)
            app.info(f"model {name!r} loaded in {load_s:.2f} s (max_batch_size {deployed.config.max_batch_size})")
            with InferClient(server.endpoints, protocol) as client:
                outputs = client.infer(name, feeds)  # the first one warms the runtime up
                latencies_ms = []
                for _ in range(requests):
                    sent = time.perf_counter_ns()
                    client.infer(name, feeds)
                    latencies_ms.append((time.perf_counter_ns() - sent) / 1e6)
    app.out.print("inputs: " + ", ".join(f"{k} {list(v.shape)} {v.dtype}" for k, v in feeds.items()), markup=False)
    for output_name, array in outputs.items():
        flat = array.reshape(-1)
        preview = ", ".join(f"{v:.4g}" for v in flat[:5].tolist())
        app.out.print(
            f"output {output_name}: shape {list(array.shape)} {array.dtype}, "
            f"mean {float(np.mean(array)):.6g}, first values [{preview}]",
            markup=False,
        )
    lat = np.array(latencies_ms)
    app.out.print(
        f"latency over {requests} requests ({protocol}, batch {batch_size}): "
        f"p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms, mean {lat.mean():.2f} ms",
        markup=False,
    )
