"""``measurement.warmup``: on by default, off with --no-warmup, part of a run's identity only when off."""

from __future__ import annotations

from tritune.cli import cli
from tritune.cli.profile import _config_overrides
from tritune.config import parse_profile_config
from tritune.profile.orchestrator import measurement_identity


def test_warmup_is_on_by_default_and_left_out_of_the_identity() -> None:
    on = parse_profile_config({"profile_models": "m"}).measurement
    assert on.warmup is True and "warmup" not in measurement_identity(on)
    off = parse_profile_config({"profile_models": "m", "measurement": {"warmup": False}}).measurement
    assert measurement_identity(off) == {**measurement_identity(on), "warmup": False}


def test_the_profile_flag_switches_it_off_and_says_nothing_when_not_given() -> None:
    command = cli.commands["profile"]
    given = command.make_context("profile", ["m.onnx", "--no-warmup"], resilient_parsing=True).params
    assert _config_overrides(given)["measurement.warmup"] is False
    absent = command.make_context("profile", ["m.onnx"], resilient_parsing=True).params
    assert _config_overrides(absent)["measurement.warmup"] is None  # a YAML value stands


def test_perf_warms_up_unless_told_not_to() -> None:
    command = cli.commands["perf"]
    assert command.make_context("perf", ["m.onnx"], resilient_parsing=True).params["warmup"] is True
    assert command.make_context("perf", ["m.onnx", "--no-warmup"], resilient_parsing=True).params["warmup"] is False
