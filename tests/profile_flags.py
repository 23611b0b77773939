"""Flags that keep a `tritune profile` run in the integration tests short: windows of 150 ms, at
most 4 of them, and a stability rule loose enough for a shared 2-core host (importable: tests/ is
on sys.path through the root conftest)."""

SHORT_MEASUREMENT = ["--measurement-interval", "150", "--max-trials", "4", "--stability-percentage", "50"]
