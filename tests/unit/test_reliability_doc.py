"""docs/reliability.md cannot drift: every row of its catalogue names a test function that exists
in the file it names, and there are at least 30 rows."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
COLUMNS = ["#", "Input or fault", "What tritune says (the fix)", "Exit", "Kept", "Test"]


def _cells(line: str) -> list[str]:
    # Split on the table's pipes, not on the escaped ones (\|) a cell may hold.
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def catalogue_rows() -> list[list[str]]:
    """The body rows of every catalogue table (header and separator rows left out)."""
    rows = []
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = _cells(line)
        if cells == COLUMNS or all(set(cell) <= {"-", ":"} for cell in cells):
            continue
        rows.append(cells)
    return rows


@cache
def defined_tests(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text())
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    )


def test_every_table_has_the_catalogue_columns() -> None:
    headers = [_cells(line) for line in DOC.read_text().splitlines() if line.startswith("| # |")]
    assert headers and all(header == COLUMNS for header in headers)


def test_there_are_at_least_30_rows_numbered_in_order() -> None:
    rows = catalogue_rows()
    assert len(rows) >= 30
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(rows) + 1)]
    assert all(len(row) == len(COLUMNS) for row in rows), [row[0] for row in rows if len(row) != len(COLUMNS)]


def test_every_row_names_a_test_that_exists() -> None:
    missing = []
    for row in catalogue_rows():
        references = TEST_REFERENCE.findall(row[-1])
        assert references, f"row {row[0]} names no test as `tests/...py::test_name`"
        for path, name in references:
            if not (ROOT / path).is_file() or name not in defined_tests(path):
                missing.append(f"row {row[0]}: {path}::{name}")
    assert missing == []


def test_every_row_gives_a_message_an_exit_status_and_what_is_kept() -> None:
    for row in catalogue_rows():
        assert all(row[1:5]), f"row {row[0]} has an empty cell"
        assert re.search(r"\b(0|1|2|3|130|143)\b|—", row[3]), f"row {row[0]}: exit {row[3]!r}"
