"""Text CSVs: word and character tokens, a training-only vocabulary, padding, truncation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from studio.core.data_settings import TextSource
from studio.data.errors import DataEncodingError, DataError
from studio.data.sources.text import read_text
from studio.data.tokens import PAD_ID, UNK_ID, Vocabulary, tokenize

Write = Callable[[str, str | bytes], Path]

REVIEWS = """\
text,label
"Great kettle, works well.",positive
Broke after a day.,negative
I love it!,positive
Terrible smell.,negative
"""


def text(path: Path, **settings: object):
    return read_text(TextSource(path=path.name, **settings), path.parent)  # type: ignore[arg-type]


def test_tokenize_words_and_characters() -> None:
    assert tokenize("Don't stop, NOW!") == ["don't", "stop", ",", "now", "!"]
    assert tokenize("Ab c", "char", lowercase=False) == ["A", "b", " ", "c"]


def test_vocabulary_has_pad_and_unk_and_is_deterministic() -> None:
    vocabulary = Vocabulary.build([["b", "a", "b"], ["c", "a"]], max_size=4)
    assert vocabulary.tokens == ("<pad>", "<unk>", "a", "b")  # ties broken alphabetically
    ids = vocabulary.encode(["b", "zzz", "a"], max_length=5)
    assert ids.tolist() == [3, UNK_ID, 2, PAD_ID, PAD_ID]
    assert vocabulary.encode(list("ab" * 10), 3).shape == (3,)
    assert Vocabulary.from_json(vocabulary.to_json()) == vocabulary


def test_vocabulary_comes_from_the_training_rows_only(write: Write) -> None:
    raw = text(write("r.csv", REVIEWS), max_length=6)
    assert raw.class_names == ["negative", "positive"]
    assert raw.target is not None and raw.target.tolist() == [1, 0, 1, 0]
    raw.encoder.fit(np.array([0, 1]))
    (ids,) = raw.encoder.encode()
    assert ids.shape == (4, 6) and ids.dtype == np.int64
    vocabulary = raw.encoder.vocabulary  # type: ignore[attr-defined]
    assert "love" not in vocabulary.tokens and "kettle" in vocabulary.tokens
    assert ids[2].tolist() == [UNK_ID, UNK_ID, UNK_ID, vocabulary.id_of("!"), PAD_ID, PAD_ID]
    assert raw.encoder.input_specs()[0].cardinality == len(vocabulary)


def test_truncation_and_characters(write: Write) -> None:
    raw = text(write("r.csv", REVIEWS), tokens="char", max_length=4)
    raw.encoder.fit(np.arange(4))
    (ids,) = raw.encoder.encode()
    assert ids.shape == (4, 4) and (ids != PAD_ID).all()


def test_errors(write: Write) -> None:
    with pytest.raises(DataError, match="no column named 'text'"):
        text(write("r.csv", "review,label\nok,positive\n"))
    with pytest.raises(DataError, match=r"column 'label': every row has the label 'positive'"):
        text(write("one.csv", "text,label\nok,positive\nfine,positive\n"))
    with pytest.raises(DataEncodingError, match=r"^bad\.csv, row 3, column 'text'"):
        text(write("bad.csv", "text,label\nok,pos\ncaf\xe9,neg\n".encode("latin-1")))
