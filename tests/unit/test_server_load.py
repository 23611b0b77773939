"""Another client's load, read from the server's request count against the client's own."""

from __future__ import annotations

from tritune.domain.server_load import OTHERS_MIN, other_clients_warning, others_requests


def test_the_edges_slack_is_not_another_client() -> None:
    assert others_requests(1_050, 1_000) == 0  # in-flight requests on either side of an edge
    assert others_requests(100 + OTHERS_MIN, 100) == 0  # a small count: the absolute bound holds
    assert other_clients_warning(1_050, 1_000) is None


def test_a_second_client_s_requests_are_named_with_their_share() -> None:
    assert others_requests(2_000, 1_000) == 1_000
    warning = other_clients_warning(2_000, 1_000)
    assert warning is not None
    assert warning.startswith("another client was loading this model: the server finished 2000 requests")
    assert "1000 of them this measurement's (50% others')" in warning and "stop the other client" in warning


def test_unknown_server_statistics_say_nothing() -> None:
    assert other_clients_warning(None, 1_000) is None
