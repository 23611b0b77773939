"""The --server-cpus split: which cores the server gets and which the load generator."""

from __future__ import annotations

import pytest

from tritune.cpus import CpuSplit, server_split, usable_cpus
from tritune.errors import UsageError


def test_the_server_gets_the_first_cores_and_the_client_the_rest() -> None:
    split = CpuSplit.first_for_server(2, [7, 0, 3, 1, 2])
    assert split.server == {0, 1}
    assert split.client == {2, 3, 7}
    assert split.describe() == "server on CPUs 0-1, load generator on CPUs 2-3,7"


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (0, r"--server-cpus 0: give at least 1"),
        (2, r"--server-cpus 2 leaves no core for the load generator: tritune may use 2 cores \(4-5\); give at most 1"),
        (3, r"give at most 1"),
    ],
)
def test_a_split_that_leaves_a_side_empty_is_refused_with_the_limit(count: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        CpuSplit.first_for_server(count, {4, 5})


def test_no_option_means_no_pinning_and_a_remote_server_cannot_be_pinned() -> None:
    assert server_split(None) is None
    assert server_split(None, remote=True) is None
    with pytest.raises(UsageError, match="a server given by URL runs elsewhere"):
        server_split(1, remote=True)


def test_the_split_is_taken_from_the_cores_this_process_may_use() -> None:
    cores = usable_cpus()
    if len(cores) < 2:
        pytest.fail("these tests need a host with 2 cores or more")
    split = server_split(1)
    assert split is not None
    assert split.server == {min(cores)}
    assert split.server | split.client == cores


def test_pinning_is_part_of_a_profile_runs_identity_only_when_asked_for() -> None:
    from tritune.config import MeasurementSettings
    from tritune.profile.orchestrator import measurement_identity

    # Unset, the settings (and so the fingerprints of runs stored before the option) stay as they were.
    assert "server_cpus" not in measurement_identity(MeasurementSettings())
    assert measurement_identity(MeasurementSettings(server_cpus=1))["server_cpus"] == 1


def test_the_server_cores_are_the_splits_else_this_process_s_and_unknown_for_a_remote_server() -> None:
    from tritune.cpus import server_cores

    assert server_cores(CpuSplit.first_for_server(1, {4, 5, 6})) == 1
    assert server_cores(None) == len(usable_cpus())
    assert server_cores(None, remote=True) is None
