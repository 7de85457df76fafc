"""Text to token ids: word or character tokens, a vocabulary built on the training split.

Id 0 is padding (``<pad>``) and id 1 stands for any token the vocabulary lacks (``<unk>``),
so a model trained here reads texts with new words without failing. Ties in frequency are
broken alphabetically: the same training texts always give the same ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
TokenMode = Literal["word", "char"]

# Words (letters, digits, underscore, apostrophes inside a word) and single punctuation marks.
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str, mode: TokenMode = "word", *, lowercase: bool = True) -> list[str]:
    """Split a text into word or character tokens."""
    if lowercase:
        text = text.lower()
    if mode == "char":
        return list(text)
    return _WORD.findall(text)


@dataclass(frozen=True)
class Vocabulary:
    """Token ↔ id, with ``<pad>`` = 0 and ``<unk>`` = 1."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.tokens[:2] != (PAD, UNK):
            raise ValueError("a vocabulary starts with <pad> and <unk>")
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(
        cls, texts: Iterable[Sequence[str]], *, max_size: int = 20_000, min_frequency: int = 1
    ) -> Vocabulary:
        """The `max_size` commonest tokens (counting <pad> and <unk>) seen `min_frequency` times."""
        counts: Counter[str] = Counter()
        for tokens in texts:
            counts.update(tokens)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_frequency and t not in (PAD, UNK)),
            key=lambda t: (-counts[t], t),
        )
        return cls((PAD, UNK, *kept[: max(0, max_size - 2)]))

    def id_of(self, token: str) -> int:
        ids: dict[str, int] = self._ids  # type: ignore[attr-defined]
        return ids.get(token, UNK_ID)

    def encode(self, tokens: Sequence[str], max_length: int) -> np.ndarray:
        """Ids of the first `max_length` tokens, padded with 0 to exactly `max_length`."""
        ids = np.zeros(max_length, dtype=np.int64)
        for i, token in enumerate(tokens[:max_length]):
            ids[i] = self.id_of(token)
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of the ids, without padding."""
        return [self.tokens[i] if 0 <= i < len(self.tokens) else UNK for i in ids if i != PAD_ID]

    def to_json(self) -> list[str]:
        return list(self.tokens)

    @classmethod
    def from_json(cls, tokens: list[str] | Any) -> Vocabulary:
        return cls(tuple(str(t) for t in tokens))


def token_texts(ids: Iterable[int] | np.ndarray, vocabulary: Sequence[str] | None) -> list[str]:
    """Every id as its token, padding included (one word per attribution value); an id the
    vocabulary lacks shows as ``#id``."""
    known: Sequence[str] = vocabulary or ()
    return [
        known[token] if 0 <= token < len(known) else f"#{token}"
        for token in np.ravel(np.asarray(ids)).astype(int).tolist()
    ]
