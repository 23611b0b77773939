"""A deterministic word-level tokenizer for the text pipeline (testing/text_pipeline.py): each
lower-cased word hashed (CRC-32) into a BERT vocabulary's range, between ``[CLS]`` and ``[SEP]``,
padded or truncated to a fixed length. No vocabulary file and nothing downloaded: the ids are not
MiniLM's own word pieces, only valid ids of its vocabulary, which is what a load test needs.

This file runs in two places: imported by the tests, and as the head of the tokenizer's
``model.py`` in Triton's Python backend, so it imports nothing but numpy and the standard library.
"""

from __future__ import annotations

import zlib

import numpy as np

SEQUENCE_LENGTH = 32
VOCAB_SIZE = 30522  # bert-base-uncased's, which MiniLM's word embeddings have
PAD_ID, CLS_ID, SEP_ID = 0, 101, 102
FIRST_WORD_ID = 1000  # below it: BERT's special and unused ids


def word_id(word: str) -> int:
    """A word's id: its CRC-32 folded into [FIRST_WORD_ID, VOCAB_SIZE)."""
    return FIRST_WORD_ID + zlib.crc32(word.encode()) % (VOCAB_SIZE - FIRST_WORD_ID)


def tokenize(texts: np.ndarray, length: int = SEQUENCE_LENGTH) -> dict[str, np.ndarray]:
    """``texts`` (any shape whose first axis is the batch, elements ``bytes`` or ``str``; one
    text per row, its first element) -> ``input_ids``, ``attention_mask`` and ``token_type_ids``,
    each INT64 ``[batch, length]``."""
    rows = np.asarray(texts, dtype=np.object_).reshape(len(texts), -1)[:, 0]
    ids = np.full((len(rows), length), PAD_ID, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for row, text in enumerate(rows):
        decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        tokens = [CLS_ID, *(word_id(w) for w in decoded.lower().split()[: length - 2]), SEP_ID]
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
