"""The confirm step on the embedded Triton: the finalists' rounds are stored as repeats, a run
interrupted mid-confirm resumes without re-measuring a stored round, and the sentence states
the evidence."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from tritune.config import load_profile_config
from tritune.domain.measurement import Measurement
from tritune.domain.status import RunStatus
from tritune.profile.notify import QuietNotifier
from tritune.profile.session import ProfileSession
from tritune.store import Store
from tritune.testing.models import mlp_model

pytestmark = pytest.mark.triton


class ConfirmEvents(QuietNotifier):
    """Counts the confirm step's measurements; ``stop_at``: Ctrl-C as that round starts."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at = stop_at
        self.rounds: list[tuple[int, int, int]] = []  # (round, planned, finalists)
        self.confirming = False
        self.measured = 0
        self.replayed = 0

    def confirm_round(self, number: int, planned: int, finalists: Sequence[str]) -> None:
        if number == self.stop_at:
            raise KeyboardInterrupt
        self.confirming = True
        self.rounds.append((number, planned, len(finalists)))

    def measurement_done(self, name: str, measurement: Measurement, replayed: bool) -> None:
        if self.confirming:
            if replayed:
                self.replayed += 1
            else:
                self.measured += 1


def _repeats(run_dir: Path) -> list[tuple[int, str, int, float]]:
    with sqlite3.connect(run_dir / "tritune.db") as db:
        return db.execute(
            "SELECT m.id, v.name, m.repeat, m.created_at FROM measurements m JOIN variants v ON v.id = m.variant_id"
            " WHERE m.repeat > 0 ORDER BY m.id"
        ).fetchall()


def test_confirm_rounds_are_stored_resumed_and_stated(tmp_path: Path) -> None:
    model = mlp_model(tmp_path / "mlp.onnx", width=32, depth=2)
    run_dir = tmp_path / "run"
    config = load_profile_config(
        None,
        {
            # Three configurations and the default, at one concurrency: the confirm step is what
            # is tested, and the search's own tests cover the search.
            "profile_models": {
                "mlp": {
                    "model_path": str(model),
                    "model_config_parameters": {"instance_group": [{"count": [1, 2]}], "max_batch_size": [4]},
                }
            },
            "run_config_search_disable": True,
            "run_config_search_min_concurrency": 2,
            "run_config_search_max_concurrency": 2,
            "measurement.measurement_interval": 150,
            "measurement.max_trials": 4,
            "measurement.stability_percentage": 50,
            "confirm.rounds": 2,
            "confirm.max_rounds": 2,
        },
    )
    first = ConfirmEvents(stop_at=2)
    with pytest.raises(KeyboardInterrupt):
        ProfileSession(config, first).run(run_dir=run_dir, export=None, report=False)
    (started,) = {(n, f) for n, _, f in first.rounds}
    finalists = started[1]
    assert started[0] == 1 and finalists >= 2
    round_one = _repeats(run_dir)
    assert len(round_one) == finalists == first.measured and {r[2] for r in round_one} == {1}
    with Store.in_run_dir(run_dir) as store:
        assert store.runs()[0].status is RunStatus.INTERRUPTED

    second = ConfirmEvents()
    (conclusion,) = ProfileSession(config, second).run(run_dir=run_dir, export=None, report=False)
    assert conclusion.resumed
    # Round 1 was replayed from the store, untouched; only round 2 was measured.
    assert (second.replayed, second.measured) == (finalists, finalists)
    stored = _repeats(run_dir)
    assert stored[:finalists] == round_one and [r[2] for r in stored[finalists:]] == [2] * finalists
    assert conclusion.measured_now == finalists  # the search was all replayed
    evidence = conclusion.to_json()["confirm"]
    assert evidence["rounds"] == 2 and len(evidence["finalists"]) == finalists
    assert all(f["rounds"] == 2 for f in evidence["finalists"])
    assert evidence["winner"] == conclusion.best_name
    # On a busy host the default may win the rounds; the sentence states the rounds either way.
    stated = r"\(± \d+ %, 2 rounds\)|is still the best after 2 confirm rounds"
    assert re.search(stated, conclusion.sentence), conclusion.sentence
    assert conclusion.facts.measurements == len(stored) + sum(len(c.measurements) for c in conclusion.configs)
