"""The demo's text pipeline as written: a deterministic tokenizer whose ids fit MiniLM's
vocabulary, and an ensemble wiring text -> tokenizer -> MiniLM (read as tritune reads any)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tritune.testing.models import MINILM_INPUT_NAMES, mlp_model
from tritune.testing.text_pipeline import ENSEMBLE, MINILM, STEPS, TOKENIZER, write_text_pipeline
from tritune.testing.tokenizer import CLS_ID, FIRST_WORD_ID, PAD_ID, SEP_ID, VOCAB_SIZE, tokenize
from tritune.triton.ensemble import read_ensemble
from tritune.triton.user_model import read_user_model


def test_the_tokenizer_is_deterministic_padded_truncated_and_within_the_vocabulary() -> None:
    texts = np.array([[b"Hello world"], [b"hello WORLD again"], [" ".join(["w"] * 50).encode()]], dtype=object)
    tokens = tokenize(texts, length=8)
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    assert set(tokens) == set(MINILM_INPUT_NAMES)
    assert all(t.dtype == np.int64 and t.shape == (3, 8) for t in tokens.values())
    assert ids[0].tolist()[:4] == [CLS_ID, ids[1, 1], ids[1, 2], SEP_ID]  # case-folded: same words, same ids
    assert ids[0, 4:].tolist() == [PAD_ID] * 4 and mask[0].tolist() == [1] * 4 + [0] * 4
    assert ids[2, -1] == SEP_ID and mask[2].all()  # 50 words truncated to 6 between the markers
    words = ids[(ids != PAD_ID) & (ids != CLS_ID) & (ids != SEP_ID)]
    assert words.min() >= FIRST_WORD_ID and words.max() < VOCAB_SIZE
    assert not tokens["token_type_ids"].any()
    assert tokenize(texts, length=8)["input_ids"].tolist() == ids.tolist()


def test_the_repository_is_an_ensemble_of_the_tokenizer_and_minilm(tmp_path: Path) -> None:
    # A stand-in ONNX file: the layout is checked here, MiniLM itself in the integration test.
    repository = write_text_pipeline(tmp_path / "models", minilm=mlp_model(tmp_path / "m.onnx", width=4))
    ensemble = read_ensemble(repository, read_user_model(repository, ENSEMBLE))
    assert ensemble.step_names == STEPS == (TOKENIZER, MINILM)
    assert (repository / MINILM / "1" / "tritune_runner").is_dir()  # served by tritune's runner
    assert "def tokenize" in (repository / TOKENIZER / "1" / "model.py").read_text()
