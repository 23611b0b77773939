"""The reports in a real headless Chromium (Debian's chromium + chromium-driver, via selenium).

Each page must load with no JavaScript error and with the network blocked (the reports are
self-contained), every plot must have drawn SVG paths, and the tables must hold the stored
rows. Full-page screenshots and PDFs go to test-artifacts/report/ (git-ignored).
Never skipped: scripts/setup_system.sh installs Chromium.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from cli_runner import run_in_process
from tritune.domain.layout import RunLayout
from tritune.report import ReportData, WrittenReports, build_report_data, load_run, write_reports
from tritune.report.pdf import find_chromium
from tritune.testing.models import MINILM_INPUT_NAMES
from tritune.testing.sample_run import write_sample_run

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
CONSTRAINED = {
    "objectives": {"perf_throughput": 1},
    "constraints": {"perf_latency_p99": {"max": 10}},
    "top_n": 3,
}

# Counts the SVG paths of the traces (not axes or grid lines) in one plot section.
_TRACE_PATHS = """
const section = document.querySelector(`[data-plot="${arguments[0]}"]`);
if (!section) return -1;
return section.querySelectorAll('.scatterlayer .trace path, .barlayer .trace path').length;
"""


def _chromedriver() -> str:
    found = shutil.which("chromedriver")
    assert found, "chromedriver is missing: run scripts/setup_system.sh (apt-get install chromium-driver)"
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    chromium = find_chromium()
    assert chromium is not None, "Chromium is missing: run scripts/setup_system.sh (apt-get install chromium)"
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        # No name resolves: a report that fetched anything (a CDN script) would break here.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=_chromedriver()))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> WrittenReports:
    run_dir = write_sample_run(tmp_path_factory.mktemp("run"), settings=CONSTRAINED)
    return write_reports(run_dir, pdf=False)


def _open(browser: webdriver.Chrome, page: Path) -> None:
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(page.resolve().as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _js_errors(browser: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def _assert_plots_drew(browser: webdriver.Chrome, keys: list[str]) -> None:
    sections = [s.get_attribute("data-plot") for s in browser.find_elements(By.CSS_SELECTOR, "[data-plot]")]
    assert sections == keys
    for key in keys:
        WebDriverWait(browser, 30).until(lambda d, key=key: d.execute_script(_TRACE_PATHS, key) > 0)


def _screenshot(browser: webdriver.Chrome, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, max(int(height), 1000))
    path = ARTIFACTS / f"{name}.png"
    assert browser.save_screenshot(str(path))
    browser.set_window_size(1280, 1000)
    return path


def _table_rows(browser: webdriver.Chrome, table_id: str) -> list[list[str]]:
    rows = browser.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return [
        [cell.get_attribute("textContent").strip() for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows
    ]


def test_summary_report(browser: webdriver.Chrome, written: WrittenReports):
    model = written.models[0]
    data: ReportData = model.data
    _open(browser, model.summary_html)

    assert _js_errors(browser) == []
    assert browser.execute_script("return document.querySelectorAll('script[src], link[href]').length") == 0
    _assert_plots_drew(browser, ["throughput-vs-latency", "memory-vs-latency", "pareto-front"])
    assert browser.find_element(By.ID, "summary-sentence").text == data.sentence
    assert browser.find_element(By.ID, "gain").text == "+88%"
    assert "Test CPU 9000" in browser.find_element(By.ID, "hardware").text
    assert "perf_latency_p99 <= 10" in browser.find_element(By.ID, "goals").text
    assert browser.find_elements(By.ID, "partial-banner") == []

    top = _table_rows(browser, "top-configs")
    assert [row[0] for row in top] == ["toy_config_0", "toy_config_1", "toy_config_default default"]
    assert top[0][5:7] == ["6", "300.0"]  # p99 and throughput of toy_config_0's best point
    every = browser.find_elements(By.CSS_SELECTOR, "#all-configs tbody tr")
    assert [r.get_attribute("data-config") for r in every] == [c.name for c in data.configs]
    _screenshot(browser, "summary")
    assert _js_errors(browser) == []


def test_detailed_reports(browser: webdriver.Chrome, written: WrittenReports):
    model = written.models[0]
    for name, page in model.detailed_html.items():
        config = model.data.config(name)
        _open(browser, page)
        assert _js_errors(browser) == [], name
        _assert_plots_drew(
            browser,
            [
                f"breakdown-{name}",
                f"gpu-used-memory-{name}",
                f"cpu-used-ram-{name}",
                f"gpu-utilization-{name}",
                f"gpu-power-usage-{name}",
            ],
        )
        rows = _table_rows(browser, "measurements")
        assert len(rows) == len(config.points) == 3
        assert [row[0] for row in rows] == ["concurrency 1", "concurrency 2", "concurrency 4"]
        throughput = [p.metrics["perf_throughput"] for p in config.points]
        assert [row[4] for row in rows] == [f"{t:.1f}" for t in throughput]
        assert f"max_batch_size: {config.max_batch_size}" in browser.find_element(By.ID, "config-pbtxt").text
        _screenshot(browser, f"detailed-{name}")


def test_partial_and_offline_run(browser: webdriver.Chrome, tmp_path: Path):
    run_dir = write_sample_run(tmp_path, settings={"mode": "offline"}, status="interrupted", configs=2)
    model = write_reports(run_dir, pdf=False).models[0]
    _open(browser, model.summary_html)
    assert _js_errors(browser) == []
    banner = browser.find_element(By.ID, "partial-banner").text
    assert banner == "Partial results: the run was interrupted after 6 measurements (status: interrupted)."
    _assert_plots_drew(browser, ["throughput-vs-latency", "memory-vs-latency", "throughput-vs-batch", "pareto-front"])
    assert len(_table_rows(browser, "top-configs")) == 2
    _screenshot(browser, "summary-partial-offline")


def test_a_busy_host_and_unstable_points_are_marked(browser: webdriver.Chrome, tmp_path: Path):
    model = write_reports(write_sample_run(tmp_path, busy_host=True), pdf=False).models[0]
    _open(browser, model.summary_html)
    assert _js_errors(browser) == []
    note = browser.find_element(By.ID, "busy-host-note")
    assert note.is_displayed() and note.text == model.data.busy_host_note
    headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#top-configs thead th")]
    assert "Other processes' CPU (cores)" in headers
    top = _table_rows(browser, "top-configs")
    column = headers.index("Other processes' CPU (cores)")
    best = model.data.best
    assert best is not None and best.best_unstable
    assert top[0][0] == f"{best.name} unstable busy host" and top[0][column] == "1.3"
    assert browser.find_element(By.CSS_SELECTOR, "#top-configs .badge.unstable").is_displayed()
    assert "unstable: the configuration's best measurement never stabilised" in browser.page_source
    _screenshot(browser, "summary-busy-host")

    _open(browser, model.detailed_html[best.name])
    assert _js_errors(browser) == []
    rows = _table_rows(browser, "measurements")
    assert [row[2] for row in rows] == ["ok", "ok", "unstable busy host"]
    assert browser.find_element(By.ID, "busy-host-legend").is_displayed()
    _screenshot(browser, "detailed-busy-host")


def test_pdf_reports(tmp_path: Path):
    run_dir = write_sample_run(tmp_path, settings=CONSTRAINED)
    model = write_reports(run_dir, top_n=1, pdf=True).models[0]
    assert [p.name for p in model.pdfs] == ["result_summary.pdf", "detailed_report.pdf"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for pdf in model.pdfs:
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000
        shutil.copy(pdf, ARTIFACTS / f"{pdf.parent.name}-{pdf.name}")


@pytest.mark.slow  # a MiniLM search and its confirm rounds; the fast tier opens the sample runs' reports
def test_reports_of_a_real_minilm_profile_open_offline(browser: webdriver.Chrome, tmp_path: Path, minilm_onnx: Path):
    """The reports `tritune profile` itself writes for the real MiniLM, opened with no network."""
    run_dir = tmp_path / "run"
    shapes = [f"--shape={name}:16" for name in MINILM_INPUT_NAMES]
    done = run_in_process(
        *["profile", str(minilm_onnx), "--name", "minilm", "--run-dir", str(run_dir)],
        *["--measurement-interval", "200", "--max-windows", "4", "--stability-percentage", "50"],
        *["--run-config-search-max-instance-count", "1", "--run-config-search-max-model-batch-size", "2"],
        *["--run-config-search-min-concurrency", "2", "--run-config-search-max-concurrency", "2", *shapes],
        *["--num-configs-per-model", "2", "--confirm-rounds", "2", "--confirm-max-rounds", "2"],
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    data = build_report_data(load_run(run_dir))
    assert data.sentence in " ".join((done.stdout + done.stderr).split())  # the terminal says what the report says

    _open(browser, RunLayout(run_dir).summary_html("minilm"))
    assert _js_errors(browser) == []
    assert browser.execute_script("return document.querySelectorAll('script[src], link[href]').length") == 0
    # The confirm step's rounds first: the pick's evidence, drawn from the rounds the run stored.
    _assert_plots_drew(browser, ["confirm-rounds", "throughput-vs-latency", "memory-vs-latency", "pareto-front"])
    assert browser.find_element(By.ID, "summary-sentence").text == data.sentence
    every = browser.find_elements(By.CSS_SELECTOR, "#all-configs tbody tr")
    assert [r.get_attribute("data-config") for r in every] == [c.name for c in data.configs]
    _screenshot(browser, "summary-minilm")

    best = data.config(data.best_name or "")
    _open(browser, RunLayout(run_dir).detailed_html(best.name))
    assert _js_errors(browser) == []
    assert len(_table_rows(browser, "measurements")) == len(best.points) > 0
    assert f"max_batch_size: {best.max_batch_size}" in browser.find_element(By.ID, "config-pbtxt").text
