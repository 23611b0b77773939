"""``tritune profile MODEL``: search serving configurations by measurement, on one server."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from tritune.cli import options
from tritune.cli.app import App
from tritune.cli.options import check_writable
from tritune.config import (
    FlagSpec,
    ProfileConfig,
    cli_flags,
    load_profile_config,
    model_with_file_settings,
    read_file_models,
)
from tritune.domain.names import check_model_name
from tritune.errors import ConstraintsUnmetError, UsageError

_KINDS: dict[str, Any] = {"int": int, "float": float, "str": str, "path": click.Path(path_type=Path)}
# Keys that need a structured YAML value (--objective takes objectives its own way).
_NOT_FLAGS = {"objectives", "constraints"}
# Choices whose wrong values the config explains better than click ("docker": use remote).
_VALIDATED_BY_CONFIG = {"triton_launch_mode"}
# perf_analyzer's short names, as the other commands take them (tritune.cli.options).
_SHORT = {
    "measurement.protocol": "-i",
    "measurement.measurement_interval": "-p",
    "measurement.stability_percentage": "-s",
    "measurement.max_trials": "-r",
}


def _config_flags() -> list[FlagSpec]:
    return [spec for spec in cli_flags() if spec.key not in _NOT_FLAGS and spec.kind != "mapping"]


def _config_options(command: Any) -> Any:
    """One click option per config key, derived from the config's own fields."""
    for spec in reversed(_config_flags()):
        names = [n for n in (_SHORT.get(spec.key), spec.flag) if n]
        shared: dict[str, Any] = {"help": spec.help, "show_default": spec.default or False}
        if spec.kind == "bool":
            if spec.default == "on":
                names[-1] = f"{spec.flag}/--no-{spec.flag[2:]}"
            option = click.option(*names, spec.dest, is_flag=True, default=None, **shared)
        elif spec.kind == "choice" and spec.key in _VALIDATED_BY_CONFIG:
            # Model Analyzer's values tritune lacks get the config's message (what to use instead).
            metavar = "[" + "|".join(spec.choices) + "]"
            option = click.option(*names, spec.dest, type=str, metavar=metavar, **shared)
        elif spec.kind == "choice":
            option = click.option(*names, spec.dest, type=click.Choice(spec.choices), **shared)
        elif spec.kind == "repeatable":
            option = click.option(*names, spec.dest, multiple=True, **shared)
        else:
            option = click.option(*names, spec.dest, type=_KINDS.get(spec.kind, str), **shared)
        command = option(command)
    return command


def _config_overrides(flags: dict[str, Any]) -> dict[str, Any]:
    """The given flags by their config key (``measurement.max_trials``); an empty repeatable is not given."""
    return {
        spec.key: (flags[spec.dest] or None) if spec.kind == "repeatable" else flags[spec.dest]
        for spec in _config_flags()
    }


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


def _config_file(ctx: click.Context, _: click.Parameter, path: Path | None) -> Path | None:
    """A config given as a pipe (``-f <(...)``, ``-f /dev/stdin``) read once, into a file of
    this run's own: the command reads the config more than once, a pipe gives its text once."""
    if path is None or not path.exists() or path.is_file() or path.is_dir():
        return path  # the loader names a path that is absent or a folder
    folder = Path(tempfile.mkdtemp(prefix="tritune-config-"))
    ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    copy = folder / "config.yaml"
    try:
        copy.write_bytes(path.read_bytes())
    except OSError as error:
        raise UsageError(f"cannot read config file {path} ({error.strerror}): check the path given to -f") from None
    return copy


@click.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option(
    "-f",
    "--config-file",
    type=click.Path(path_type=Path),
    callback=_config_file,
    help="YAML config (Model Analyzer keys); a pipe works too.",
)
@click.option("--run-dir", type=click.Path(path_type=Path), help="Store, output repository and reports go here.")
@options.model_name
@click.option("--objective", "objective_flags", multiple=True, help="METRIC[=WEIGHT], repeatable.")
@click.option("--export", "export_repo", type=click.Path(path_type=Path), help="Write the best config here.")
@options.model_inputs
# The name this option had before it took perf_analyzer's (--max-trials), kept for old scripts.
@click.option("--max-windows", "max_windows", type=int, hidden=True)
@options.url
@options.tritonserver
@options.as_json
@click.option("--no-report", is_flag=True, help="Skip the HTML/CSV reports.")
@_config_options
@options.connection_keys_option
@click.pass_obj
def profile(
    app: App,
    model: Path | None,
    config_file: Path | None,
    run_dir: Path | None,
    name: str | None,
    objective_flags: tuple[str, ...],
    export_repo: Path | None,
    inputs: tuple[str, ...],
    max_windows: int | None,
    url: str | None,
    tritonserver: str | None,
    as_json: bool,
    no_report: bool,
    connection_keys: dict[str, Any],
    **config_flags: Any,
) -> None:
    """Find the best serving configuration for MODEL by measurement.

    MODEL is an .onnx file, a directory made by `tritune prepare`, or anything `tritune prepare`
    takes (it then runs first). With --model-repository DIR, the models --profile-models names
    (or MODEL, a name) are DIR's entries, each served by its own backend."""
    from tritune.cli.progress import TerminalNotifier
    from tritune.profile.session import ProfileSession

    if config_flags["max_trials"] is None:
        config_flags["max_trials"] = max_windows
    overrides = _config_overrides(config_flags)
    # The older flags are the server keys' shortcuts: --url is remote mode, --tritonserver local mode.
    if url:
        overrides |= {"triton_launch_mode": "remote", "triton_http_endpoint": url}
    elif tritonserver:
        overrides |= {
            "triton_launch_mode": overrides.get("triton_launch_mode") or "local",
            "triton_server_path": tritonserver,
        }
    # perf_analyzer's --ssl-* and -H: the connection section's keys, over the file's.
    overrides |= {f"connection.{key}": value for key, value in connection_keys.items()}
    if objective_flags:
        overrides["objectives"] = _objectives_option(objective_flags)
    if model is not None and overrides["profile_models"] is not None:
        raise UsageError(f"give MODEL ({model}) or --profile-models, not both")
    if model is not None and overrides["model_repository"] is not None:
        overrides["profile_models"] = str(model)  # a model of the repository, by its name
    elif model is not None:
        # Beside a config file, the file's entry for this model keeps its settings (manual
        # lists, objectives, constraints): MODEL only says which file it is.
        file_models = read_file_models(config_file) if config_file is not None else {}
        model_name = check_model_name(name) if name is not None else _model_name(model)
        overrides["profile_models"] = model_with_file_settings(file_models, model_name, model, named=name is not None)
    elif config_file is None and overrides["profile_models"] is None:
        raise UsageError(
            "give a MODEL file, --model-repository DIR --profile-models a,b, or a config file with "
            "profile_models: tritune profile model.onnx"
        )
    config: ProfileConfig = load_profile_config(config_file, overrides)
    if export_repo is not None:
        check_writable(export_repo, "--export", folder=True)
    from tritune.prepare import parse_input_option

    session = ProfileSession(
        config,
        TerminalNotifier(app),
        inputs=tuple(parse_input_option(i) for i in inputs),
    )
    conclusions = session.run(run_dir=run_dir, export=export_repo, report=not no_report)
    if as_json:
        app.out.print_json(json.dumps([c.to_json() for c in conclusions]))
    # Everything is stored, reported and exported by now; the status tells a script that the
    # best it finds there misses the constraints.
    unmet = [c.unmet_constraints for c in conclusions if c.unmet_constraints]
    if unmet:
        raise ConstraintsUnmetError("; ".join(unmet))


def _model_name(path: Path) -> str:
    from tritune.domain.names import default_model_name

    return check_model_name(default_model_name(path))
