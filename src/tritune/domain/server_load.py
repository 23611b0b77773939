"""Another client's load on the model being measured, read from the server's own statistics.

Triton counts every request it finishes for a model, whoever sent it. Over the windows a
measurement keeps, the load generator knows how many of its own requests finished; when the
server finished clearly more, someone else was loading the same model, and the numbers are low
for a reason the user can fix (as a busy host is named, not hidden). Pure.
"""

from __future__ import annotations

# Window edges and the server's snapshots are not the same instants: up to a window's worth of
# in-flight requests may fall on either side. Beyond both bounds the excess is another client's.
OTHERS_SHARE = 0.10  # of our own requests
OTHERS_MIN = 20  # requests


def others_requests(server_requests: int, our_requests: int) -> int:
    """The requests the server finished beyond ours, 0 within the edges' slack."""
    excess = server_requests - our_requests
    return excess if excess > max(OTHERS_SHARE * our_requests, OTHERS_MIN) else 0


def other_clients_warning(server_requests: int | None, our_requests: int) -> str | None:
    """The one-line warning when another client loaded the model during the measurement, or None
    (also when the server's statistics are not known)."""
    if server_requests is None:
        return None
    others = others_requests(server_requests, our_requests)
    if not others:
        return None
    return (
        f"another client was loading this model: the server finished {server_requests} requests in "
        f"these windows, {our_requests} of them this measurement's ({others / server_requests:.0%} "
        "others'): numbers are low; stop the other client, or measure when the server serves no one else"
    )
