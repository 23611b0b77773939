"""``check_writable``: the output paths `--export` and `perf -f` are checked before anything runs."""

from pathlib import Path

import pytest

from tritune.cli.options import check_writable
from tritune.errors import UsageError


def test_a_folder_that_is_absent_is_fine_under_a_writable_one(tmp_path: Path) -> None:
    check_writable(tmp_path / "a" / "b", "--export", folder=True)
    check_writable(tmp_path / "perf.csv", "-f", folder=False)


def test_an_existing_writable_file_is_fine_whatever_its_folder() -> None:
    check_writable(Path("/dev/null"), "-f", folder=False)


def test_a_file_for_a_folder_and_a_folder_for_a_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        check_writable(tmp_path / "f", "--export", folder=True)
    with pytest.raises(UsageError, match="is a folder: give the path of a file"):
        check_writable(tmp_path, "-f", folder=False)
    with pytest.raises(UsageError, match="does not exist: create it or give another path"):
        check_writable(tmp_path / "no" / "perf.csv", "-f", folder=False)
