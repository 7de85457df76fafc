"""Text classification CSVs: a text column and a label column, tokenised into padded ids.

The vocabulary is built from the training split only (`TextEncoder.fit`): words seen only in
validation or test texts become ``<unk>``, as they would for a deployed model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.core.data_settings import TextSource
from studio.data.budget import check_memory
from studio.data.csv_reader import read_csv_columns
from studio.data.errors import DataError, where
from studio.data.paths import resolve_path
from studio.data.previews import ColumnStats, Preview, TextPreview, categorical_stats, numeric_stats
from studio.data.raw import FeatureAxis, FeatureEncoder, RawData
from studio.data.signature import InputSpec
from studio.data.tokens import TokenMode, Vocabulary, tokenize


def read_text(source: TextSource, base_dir: Path | None) -> RawData:
    """Texts and their labels; rows without a label are left out (and counted)."""
    label = source.path
    path = resolve_path(source.path, base_dir)
    if source.text_column == source.label_column:
        raise DataError(f"{label}: the text column and the label column must differ")
    columns = read_csv_columns(
        path,
        label,
        delimiter=source.delimiter,
        encoding=source.encoding,
        fallback_encoding=source.fallback_encoding,
        text_columns=[source.text_column, source.label_column],
        usecols=[source.text_column, source.label_column],
    )
    notes = list(columns.notes)
    keep = ~columns.missing(source.label_column)
    if not keep.all():
        notes.append(
            f"{where(label, column=source.label_column)}: {int((~keep).sum())} rows without "
            "a label were left out."
        )
        columns = columns.select(keep)
    if columns.rows == 0:
        raise DataError(f"{label}: no labelled rows")
    empty = columns.missing(source.text_column)
    if empty.any():
        notes.append(f"{where(label, column=source.text_column)}: {int(empty.sum())} empty texts.")
    texts = [
        "" if e else str(t) for t, e in zip(columns.values[source.text_column], empty, strict=True)
    ]
    labels = np.asarray([str(v).strip() for v in columns.values[source.label_column]])
    class_names, target = np.unique(labels, return_inverse=True)
    if len(class_names) < 2:
        raise DataError(
            f"{where(label, column=source.label_column)}: every row has the label "
            f"{str(class_names[0])!r}; a classifier needs at least two classes"
        )
    encoder = TextEncoder(
        texts,
        mode=source.tokens,
        lowercase=source.lowercase,
        max_length=source.max_length,
        max_vocabulary=source.max_vocabulary,
        min_frequency=source.min_frequency,
        label_values=labels,
        label_column=source.label_column,
        label=label,
    )
    return RawData(
        label,
        "text",
        "classification",
        encoder,
        target.astype(np.int64),
        [str(c) for c in class_names],
        notes=notes,
    )


class TextEncoder(FeatureEncoder):
    """Token ids (n, max_length), padded with 0; the vocabulary comes from `fit`."""

    def __init__(
        self,
        texts: list[str],
        *,
        mode: TokenMode,
        lowercase: bool,
        max_length: int,
        max_vocabulary: int,
        min_frequency: int,
        label_values: np.ndarray | None = None,
        label_column: str = "label",
        label: str = "the texts",
    ) -> None:
        self.label = label
        self.texts = texts
        self.mode: TokenMode = mode
        self.lowercase = lowercase
        self.max_length = max_length
        self.max_vocabulary = max_vocabulary
        self.min_frequency = min_frequency
        self.label_values = label_values
        self.label_column = label_column
        self.tokens = [tokenize(t, mode, lowercase=lowercase) for t in texts]
        self.vocabulary: Vocabulary | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def vocabulary_bound(self) -> int:
        """The largest vocabulary any split can give (all texts' distinct tokens, capped)."""
        distinct = len({t for tokens in self.tokens for t in tokens})
        return min(self.max_vocabulary, distinct + 2)

    def input_specs(self) -> tuple[InputSpec, ...]:
        size = len(self.vocabulary) if self.vocabulary else self.vocabulary_bound()
        return (InputSpec("tokens", (self.max_length,), "long", size),)

    def fit(self, train: np.ndarray) -> None:
        self.vocabulary = Vocabulary.build(
            (self.tokens[i] for i in train),
            max_size=self.max_vocabulary,
            min_frequency=self.min_frequency,
        )

    def encode(self) -> list[np.ndarray]:
        if self.vocabulary is None:
            raise RuntimeError("fit the encoder on the training rows first")
        check_memory(
            self.label,
            len(self.tokens) * self.max_length * np.dtype(np.int64).itemsize,
            f"{len(self.tokens):,} texts of {self.max_length:,} token ids",
            "lower the maximum text length (max_length)",
        )
        ids = np.zeros((len(self.tokens), self.max_length), dtype=np.int64)
        lookup = self.vocabulary.id_of
        for row, tokens in enumerate(self.tokens):
            for column, token in enumerate(tokens[: self.max_length]):
                ids[row, column] = lookup(token)
        return [ids]

    def feature_axes(self) -> list[FeatureAxis | None]:
        return [None]

    def state(self) -> dict[str, Any]:
        return {
            "type": "text",
            "tokens": self.mode,
            "lowercase": self.lowercase,
            "max_length": self.max_length,
            "vocabulary": self.vocabulary.to_json() if self.vocabulary else None,
        }

    def statistics(self) -> list[ColumnStats]:
        lengths = np.asarray([len(t) for t in self.tokens], dtype=np.float64)
        stats = [numeric_stats(f"{self.mode}s per text", "text", lengths)]
        truncated = int((lengths > self.max_length).sum())
        stats[0].top = [(f"longer than {self.max_length} (truncated)", truncated)]
        if self.label_values is not None:
            missing = np.zeros(len(self.label_values), dtype=bool)
            stats.append(categorical_stats(self.label_column, "target", self.label_values, missing))
        return stats

    def preview(self, rows: np.ndarray, labels: list[str]) -> Preview:
        shown = []
        for r in rows:
            tokens = self.tokens[r][: self.max_length]
            if self.vocabulary is not None:
                tokens = [t if self.vocabulary.id_of(t) > 1 else "<unk>" for t in tokens]
            shown.append(tokens)
        return TextPreview([self.texts[r] for r in rows], labels, shown)
