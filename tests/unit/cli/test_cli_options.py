"""The options several commands share are one declaration (tritune.cli.options): the same
spelling, default, type and help wherever they appear."""

from collections import defaultdict

import click
import pytest

from tritune.cli import cli
from tritune.cli import options as shared


def _signature(param: click.Parameter) -> tuple[object, ...]:
    help_text = getattr(param, "help", None)
    return (tuple(param.opts), tuple(param.secondary_opts), param.default, repr(param.type), help_text)


def test_a_flag_that_two_commands_share_is_declared_alike():
    seen: dict[str, dict[str, tuple[object, ...]]] = defaultdict(dict)
    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                seen[param.name or ""][name] = _signature(param)
    # profile derives its measurement flags from the config, with "not given" as their default:
    # its spellings are checked by the next test.
    shared_flags = {
        flag: by_command for flag, by_command in seen.items() if len({c for c in by_command if c != "profile"}) > 1
    }
    expected = {"tritonserver", "protocol", "shapes", "batch_size", "input_data", "name", "as_json", "max_batch_size"}
    assert expected <= set(shared_flags)
    for flag, by_command in shared_flags.items():
        mine = {c: s for c, s in by_command.items() if c != "profile"}
        assert len(set(mine.values())) == 1, (flag, mine)


@pytest.mark.parametrize("command", ["infer", "perf"])
def test_protocol_defaults_to_http_everywhere(command: str):
    (protocol,) = [p for p in cli.commands[command].params if p.name == "protocol"]
    assert protocol.default == shared.DEFAULT_PROTOCOL == "http"


def test_measurement_takes_the_commands_window_and_names_max_trials():
    @click.command()
    @shared.measurement(interval_ms=1000, min_interval_ms=50)
    def command(measurement_interval: int, stability_percentage: float, max_trials: int) -> None: ...

    flags = {p.name: p for p in command.params}
    assert [p.name for p in command.params] == ["measurement_interval", "stability_percentage", "max_trials"]
    assert flags["measurement_interval"].default == 1000
    assert "--max-trials" in flags["max_trials"].opts and "-r" in flags["max_trials"].opts


def test_profile_spells_every_shared_flag_as_the_other_commands_do():
    """profile derives its measurement flags from the config (default: not given, so a YAML value
    stands), so their defaults differ by design; their spellings, short names included, may not."""
    elsewhere: dict[str, list[str]] = {}
    for name, command in cli.commands.items():
        if name != "profile":
            for param in command.params:
                if isinstance(param, click.Option):
                    elsewhere.update({opt: sorted(param.opts) for opt in param.opts if opt.startswith("--")})
    shared_with_profile = {}
    for param in cli.commands["profile"].params:
        for opt in param.opts:
            if opt in elsewhere:
                shared_with_profile[opt] = sorted(param.opts)
    assert {"--protocol", "--measurement-interval", "--stability-percentage", "--max-trials", "--shape"} <= set(
        shared_with_profile
    )
    assert {"--server-cpus", "--url", "--tritonserver", "--json", "--name", "--input"} <= set(shared_with_profile)
    for opt, opts in shared_with_profile.items():
        assert opts == elsewhere[opt], opt
