"""The SavedModel cases (savedmodel_cases.py) in a pytest process of their own.

TensorFlow, once imported, stays loaded for the life of its process, and the Triton compiler
that torch's dynamo imports later (test_prepare_torch.py) then dies with a segmentation fault
next to it: the whole suite stopped there in CI. So the cases run in a child pytest, and this
test holds it to every case passing (none skipped, none missing)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # TensorFlow's import alone takes a minute on a 2-core host

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).with_name("savedmodel_cases.py")
EXPECTED = {
    "test_savedmodel_is_converted_with_a_dynamic_batch_and_matches_tensorflow",
    "test_a_conversion_unlike_the_savedmodel_fails_validation",
    "test_savedmodel_tensorflow_cannot_load_or_without_signature_is_one_line",
}


def test_the_savedmodel_cases_pass_in_a_process_of_their_own(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", str(CASES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    cases = list(ET.parse(report).getroot().iter("testcase"))
    assert {c.get("name") for c in cases} == EXPECTED
    for case in cases:
        outcome = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        assert outcome == [], (case.get("name"), outcome)
