"""What the data tab shows, as plain data: previews, statistics, balance and split sizes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from studio.core.project import DataSection
from studio.data.overview import inspect_data
from studio.data.previews import ImagePreview, SeriesPreview, TablePreview, TextPreview
from tests.data.conftest import section

Write = Callable[[str, str | bytes], Path]


@pytest.mark.parametrize(
    ("name", "preview_type"),
    [
        ("iris", TablePreview),
        ("digits", ImagePreview),
        ("diabetes", TablePreview),
        ("shapes", ImagePreview),
        ("sine", SeriesPreview),
        ("text", TextPreview),
    ],
)
def test_every_bundled_dataset_has_an_overview(name: str, preview_type: type) -> None:
    overview = inspect_data(DataSection(dataset=name), preview_count=6)
    assert isinstance(overview.preview, preview_type)
    assert sum(overview.split_sizes.values()) == overview.samples
    assert overview.statistics
    json.dumps(overview.to_dict())  # plain data all the way down


def test_table_preview_and_statistics() -> None:
    overview = inspect_data(DataSection(dataset="iris"), preview_count=3)
    preview = overview.preview
    assert isinstance(preview, TablePreview)
    assert preview.columns[-1] == "species"
    assert preview.rows[0] == ["5.1", "3.5", "1.4", "0.2", "setosa"]
    stats = {s.name: s for s in overview.statistics}
    assert stats["sepal_length"].mean == pytest.approx(5.843, abs=1e-3)
    assert stats["sepal_length"].min == 4.3 and stats["sepal_length"].max == 7.9
    assert stats["species"].type == "categorical" and stats["species"].role == "target"
    assert stats["species"].unique == 3
    balance = {c.name: c for c in overview.class_balance}
    assert balance["setosa"].total == 50
    assert balance["setosa"].train + balance["setosa"].validation + balance["setosa"].test == 50


def test_image_preview_spreads_over_classes_with_labels() -> None:
    overview = inspect_data(DataSection(dataset="digits"), preview_count=10)
    preview = overview.preview
    assert isinstance(preview, ImagePreview)
    assert preview.labels == [str(d) for d in range(10)]
    assert preview.images[0].shape == (8, 8) and preview.images[0].dtype == np.uint8
    assert max(int(i.max()) for i in preview.images) == 255  # the 0-16 range is stretched
    assert len(overview.class_balance) == 10


def test_missing_values_are_reported_in_statistics_and_notes(write: Write) -> None:
    path = write("m.csv", "a,b,y\n1,,0\n2,5,1\n,6,0\n4,7,1\n5,8,0\n6,9,1\n")
    overview = inspect_data(section(kind="table", path="m.csv", missing="median"), path.parent)
    stats = {s.name: s for s in overview.statistics}
    assert stats["a"].missing == 1 and stats["b"].missing == 1
    assert any("2 missing values" in n for n in overview.notes)


def test_text_preview_shows_tokens_with_unknowns() -> None:
    overview = inspect_data(DataSection(dataset="text"), preview_count=4)
    preview = overview.preview
    assert isinstance(preview, TextPreview)
    assert len(preview.texts) == 4 and set(preview.labels) == {"negative", "positive"}
    assert preview.tokens[0] and all(isinstance(t, str) for t in preview.tokens[0])
    lengths = overview.statistics[0]
    assert lengths.name == "words per text" and lengths.max is not None and lengths.max <= 64
