"""The terminal shows the confirm step's rounds."""

import io

from rich.console import Console

from tritune.cli.app import App
from tritune.cli.progress import TerminalNotifier
from tritune.domain.measurement import LoadPoint, Measurement, MeasurementStatus


def test_the_terminal_says_which_confirm_round_runs() -> None:
    stream = io.StringIO()
    app = App(err=Console(file=stream, width=200, force_terminal=False))
    notifier = TerminalNotifier(app)
    with notifier.progress():
        notifier.confirm_round(2, 3, ["m_config_1", "m_config_4", "m_config_0", "m_config_default"])
        notifier.measurement_done(
            "m_config_1", Measurement(LoadPoint(value=8), MeasurementStatus.OK, {"perf_throughput": 10.0}), False
        )
    text = stream.getvalue()
    assert "confirming 4 finalists: round 2 of 3" in text
    assert "m_config_1 @ concurrency 8, batch 1: 10.0 infer/s" in text
