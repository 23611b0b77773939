"""``tritune infer MODEL.onnx``: deploy a model on the embedded Triton and run inferences."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np

from tritune.cli.app import App
from tritune.domain.names import check_model_name, default_model_name
from tritune.inputs import make_inputs, parse_shape_options, resolve_shapes
from tritune.triton.control import ModelControl
from tritune.triton.infer import InferClient
from tritune.triton.model_config import read_signature
from tritune.triton.repository import deploy_onnx
from tritune.triton.server import EmbeddedTriton


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Model name on the server (default: the file's stem).")
@click.option("-b", "--batch-size", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--shape", "shapes", multiple=True, help="NAME:D1,D2 for dynamic dims, batch dim left out.")
@click.option("-i", "--protocol", type=click.Choice(["grpc", "http"]), default="grpc", show_default=True)
@click.option("--input-data", type=click.Choice(["random", "zero"]), default="random", show_default=True)
@click.option("-n", "--requests", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--tritonserver", type=click.Path(dir_okay=False), help="Use this tritonserver binary.")
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
    """Deploy MODEL (an .onnx file) on the embedded Triton, infer, print outputs and latency."""
    overrides = parse_shape_options(shapes)
    signature = read_signature(model)
    name = check_model_name(name or default_model_name(model))
    with tempfile.TemporaryDirectory(prefix="tritune-infer-") as repo:
        deployed = deploy_onnx(repo, name, model)
        batched = deployed.config.max_batch_size > 0
        request_shapes = resolve_shapes(signature, batch_size, overrides, batched)
        feeds = make_inputs(signature, request_shapes, input_data)
        app.info(f"starting the embedded Triton for {model} ...")
        started = time.perf_counter()
        with EmbeddedTriton(repo, tritonserver=tritonserver) as server, ModelControl(server) as control:
            app.info(f"server ready in {time.perf_counter() - started:.2f} s at {server.endpoints.grpc} (gRPC)")
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
