"""``tritune profile MODEL``: search serving configurations by measurement, on one server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tritune.cli.app import App
from tritune.config import ProfileConfig, cli_flags, load_profile_config
from tritune.errors import UsageError
from tritune.inputs import parse_shape_options

_KINDS: dict[str, Any] = {"int": int, "float": float, "str": str, "path": click.Path(path_type=Path)}
# Keys the command sets itself (the MODEL argument), or that need a structured YAML value.
_NOT_FLAGS = {"profile_models", "objectives", "constraints"}


def _config_options(command: Any) -> Any:
    """One click option per top-level config key, derived from the config's own fields."""
    for spec in reversed(cli_flags()):
        if spec.key in _NOT_FLAGS or spec.kind == "mapping":
            continue
        if spec.kind == "bool":
            command = click.option(spec.flag, spec.key, is_flag=True, default=None, help=spec.help)(command)
        elif spec.kind == "choice":
            command = click.option(spec.flag, spec.key, type=click.Choice(spec.choices), help=spec.help)(command)
        else:
            command = click.option(spec.flag, spec.key, type=_KINDS.get(spec.kind, str), help=spec.help)(command)
    return command


def _objectives_option(values: tuple[str, ...]) -> dict[str, float] | None:
    """``--objective perf_throughput=10 --objective perf_latency_p99=5``."""
    if not values:
        return None
    objectives = {}
    for value in values:
        metric, _, weight = value.partition("=")
        try:
            objectives[metric] = float(weight) if weight else 1.0
        except ValueError:
            raise UsageError(f"--objective {value!r} is not METRIC[=WEIGHT]: e.g. perf_throughput=10") from None
    return objectives


@click.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("-f", "--config-file", type=click.Path(path_type=Path), help="YAML config (Model Analyzer keys).")
@click.option("--run-dir", type=click.Path(path_type=Path), help="Store, output repository and reports go here.")
@click.option("--name", help="Model name (default: from the file).")
@click.option("--objective", "objective_flags", multiple=True, help="METRIC[=WEIGHT], repeatable.")
@click.option("--export", "export_repo", type=click.Path(path_type=Path), help="Write the best config here.")
@click.option("--shape", "shapes", multiple=True, help="NAME:D1,D2 for dynamic dims, batch dim left out.")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME:D1,D2[:DTYPE]",
    help="For a PyTorch model that needs preparing: an input's shape (batch left out).",
)
@click.option(
    "-i",
    "--protocol",
    type=click.Choice(["grpc", "http"]),
    default="http",
    show_default=True,
    help="HTTP (the default) costs the load generator less CPU per request than gRPC.",
)
@click.option(
    "--measurement-interval",
    default=1000,
    show_default=True,
    type=click.IntRange(min=50),
    help="Measurement window (ms).",
)
@click.option("--stability-percentage", default=10.0, show_default=True, type=click.FloatRange(min=0.1))
@click.option("--max-windows", default=10, show_default=True, type=click.IntRange(min=3))
@click.option("--url", help="Use a running Triton (host:port, HTTP) instead of the embedded one.")
@click.option("--tritonserver", type=click.Path(dir_okay=False), help="Use this tritonserver binary.")
@click.option(
    "--server-cpus",
    type=int,
    default=None,
    help="Pin the embedded server to the first N cores and the load generator to the rest "
    "(steadier numbers on a small host; part of the run's identity).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--no-report", is_flag=True, help="Skip the HTML/CSV reports.")
@_config_options
@click.pass_obj
def profile(
    app: App,
    model: Path | None,
    config_file: Path | None,
    run_dir: Path | None,
    name: str | None,
    objective_flags: tuple[str, ...],
    export_repo: Path | None,
    shapes: tuple[str, ...],
    inputs: tuple[str, ...],
    protocol: str,
    measurement_interval: int,
    stability_percentage: float,
    max_windows: int,
    url: str | None,
    tritonserver: str | None,
    server_cpus: int | None,
    as_json: bool,
    no_report: bool,
    **config_flags: Any,
) -> None:
    """Find the best serving configuration for MODEL by measurement.

    MODEL is an .onnx file, a directory made by `tritune prepare`, or anything `tritune prepare`
    takes (it then runs first)."""
    from tritune.profile.session import MeasureSettings, ProfileSession

    overrides: dict[str, Any] = dict(config_flags)
    if objective_flags:
        overrides["objectives"] = _objectives_option(objective_flags)
    if model is not None:
        model_name = name or _model_name(model)
        overrides["profile_models"] = {model_name: {"model_path": str(model)}}
    elif config_file is None:
        raise UsageError("give a MODEL file or a config file with profile_models: tritune profile model.onnx")
    config: ProfileConfig = load_profile_config(config_file, overrides)
    measure = MeasureSettings(
        protocol=protocol,
        window_ms=measurement_interval,
        stability=stability_percentage / 100,
        max_windows=max_windows,
        shapes=parse_shape_options(shapes),
        server_cpus=server_cpus,
    )
    from tritune.prepare import parse_input_option

    session = ProfileSession(
        app,
        config,
        measure,
        url=url,
        tritonserver=tritonserver,
        inputs=tuple(parse_input_option(i) for i in inputs),
    )
    outcomes = session.run(run_dir=run_dir, export=export_repo, report=not no_report)
    if as_json:
        app.out.print_json(json.dumps([o.to_json() for o in outcomes]))


def _model_name(path: Path) -> str:
    from tritune.domain.names import default_model_name

    return default_model_name(path)
