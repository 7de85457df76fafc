"""CSV tables: columns, task detection, categories, missing values, and their errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from studio.core.data_settings import TableSource
from studio.data.errors import DataError
from studio.data.prepare import prepare_data
from studio.data.sources.table import read_table
from tests.data.conftest import section

Write = Callable[[str, str | bytes], Path]


def table(path: Path, **settings: object):
    return read_table(TableSource(path=path.name, **settings), path.parent)  # type: ignore[arg-type]


def test_iris_like_table_defaults_to_last_column_classification(iris_csv: Path) -> None:
    raw = table(iris_csv)
    assert raw.task == "classification" and raw.kind == "table"
    assert raw.class_names == ["setosa", "versicolor", "virginica"]
    assert raw.target is not None and raw.target.dtype == np.int64
    assert raw.target.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    (features,) = raw.encoder.encode()
    assert features.shape == (15, 4) and features.dtype == np.float32
    np.testing.assert_allclose(features[0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)


def test_feature_and_target_choice(iris_csv: Path) -> None:
    raw = table(iris_csv, target="sepal_length", features=["petal_length", "petal_width"])
    assert raw.task == "regression"
    assert raw.target is not None and raw.target.shape == (15, 1)
    assert raw.encoder.input_specs()[0].shape == (2,)
    assert raw.target[0, 0] == pytest.approx(5.1)


def test_task_auto_detection_and_override(write: Write) -> None:
    rows = "\n".join(f"{i % 7},{i % 3}" for i in range(60))
    path = write("t.csv", "x,y\n" + rows + "\n")
    assert table(path).task == "classification"  # few integer values: class labels
    assert table(path, task="regression").task == "regression"
    spread = "\n".join(f"{i},{i * 1.5}" for i in range(60))
    path = write("r.csv", "x,y\n" + spread + "\n")
    assert table(path).task == "regression"
    raw = table(path, task="classification")
    assert raw.task == "classification" and len(raw.class_names) == 60
    assert raw.class_names[:3] == ["0", "1.5", "3"]


def test_numeric_labels_map_in_numeric_order(write: Write) -> None:
    path = write("t.csv", "x,y\n1,10\n2,2\n3,10\n4,2\n")
    raw = table(path)
    assert raw.class_names == ["2", "10"]
    assert raw.target is not None and raw.target.tolist() == [1, 0, 1, 0]


CARS = """\
colour,doors,price,sold
red,3,10.5,yes
blue,5,12.0,no
red,5,9.5,yes
green,3,11.0,no
blue,3,10.0,yes
red,5,13.0,no
"""


def test_categorical_columns_one_hot(write: Write) -> None:
    raw = table(write("cars.csv", CARS))
    assert raw.encoder.feature_names() == [  # type: ignore[attr-defined]
        "colour=blue",
        "colour=green",
        "colour=red",
        "doors",
        "price",
    ]
    (features,) = raw.encoder.encode()
    np.testing.assert_array_equal(features[0], [0, 0, 1, 3, 10.5])
    axes = raw.encoder.feature_axes()
    assert axes[0] is not None and axes[0].columns == (False, False, False, True, True)


def test_categorical_columns_as_embedding_indices(write: Write) -> None:
    raw = table(
        write("cars.csv", CARS),
        categorical=["colour", "doors"],
        categorical_encoding="index",
    )
    numeric, ids = raw.encoder.input_specs()
    assert numeric.shape == (1,) and numeric.dtype == "float"
    # colour: unknown + 3 colours; doors: unknown + 2 values, offset after colour's ids.
    assert ids.shape == (2,) and ids.dtype == "long" and ids.cardinality == 4 + 3
    price, codes = raw.encoder.encode()
    assert codes.dtype == np.int64
    assert codes[:3].tolist() == [[3, 5], [1, 6], [3, 6]]
    assert price[:, 0].tolist() == [10.5, 12.0, 9.5, 11.0, 10.0, 13.0]


MISSING = """\
a,b,colour,y
1,10,red,0
,20,blue,1
3,,red,0
5,40,,1
100,50,red,0
7,60,blue,1
"""


def test_missing_values_are_reported_then_dropped(write: Write) -> None:
    raw = table(write("m.csv", MISSING))
    assert len(raw) == 3
    assert any("3 missing values ('a': 1, 'b': 1, 'colour': 1)" in n for n in raw.notes)
    assert any("3 rows with missing values were dropped" in n for n in raw.notes)


@pytest.mark.parametrize(
    ("strategy", "a_fill", "colour"),
    [
        ("mean", 4.0, [1, 0]),  # categories take the commonest: blue and red tie, blue sorts first
        ("median", 4.0, [1, 0]),
        ("mode", 1.0, [1, 0]),  # every value appears once: the smallest wins
        ("constant", -1.0, [0, 0]),  # a missing category stays unknown: all zeros
    ],
)
def test_missing_values_are_filled_from_training_rows_only(
    write: Write, strategy: str, a_fill: float, colour: list[int]
) -> None:
    raw = table(write("m.csv", MISSING), missing=strategy, fill_value=-1.0)
    assert len(raw) == 6
    # Training rows leave out row 4, whose 100 would move the mean if it leaked in.
    raw.encoder.fit(np.array([0, 1, 2, 3, 5]))
    features = raw.encoder.encode()[0]
    names = raw.encoder.feature_names()  # type: ignore[attr-defined]
    assert features[1, names.index("a")] == pytest.approx(a_fill)
    assert features[3, [names.index("colour=blue"), names.index("colour=red")]].tolist() == colour
    assert raw.encoder.state()["fill"]["a"] == pytest.approx(a_fill)


def test_rows_without_a_target_are_left_out(write: Write) -> None:
    raw = table(write("t.csv", "x,y\n1,a\n2,\n3,b\n4,a\n"))
    assert len(raw) == 3 and any("1 rows without a target" in n for n in raw.notes)


def test_target_with_one_class_is_an_error(write: Write) -> None:
    path = write("one.csv", "x,label\n1,cat\n2,cat\n3,cat\n")
    with pytest.raises(
        DataError, match=r"^one\.csv, column 'label': the target has only one class \('cat'\)"
    ):
        table(path)


def test_word_in_numeric_feature_is_an_error_naming_it(write: Write) -> None:
    rows = [f"{i}.5,{i % 2}" for i in range(12)]
    rows[7] = "abc,1"
    path = write("iris.csv", "petal_width,species\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        DataError, match=r"^iris\.csv, row 9, column 'petal_width': 'abc' is not a number"
    ):
        table(path)


def test_bad_column_choices(iris_csv: Path) -> None:
    with pytest.raises(DataError, match="no column named 'nope'"):
        table(iris_csv, target="nope")
    with pytest.raises(DataError, match="cannot also be a feature"):
        table(iris_csv, target="species", features=["species", "sepal_length"])
    with pytest.raises(DataError, match="marked categorical but not a feature"):
        table(iris_csv, categorical=["species"])


def test_the_row_numbers_after_dropping_still_name_file_lines(write: Write) -> None:
    rows = ["1,0", ",1", "3,0", "x,1", "5,0", "6,1", "7,0", "8,1"]
    path = write("t.csv", "a,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"row 5, column 'a': 'x' is not a number"):
        table(path)


def test_prepare_standardises_on_training_rows(iris_csv: Path) -> None:
    prepared = prepare_data(section(kind="table", path=iris_csv.name), iris_csv.parent)
    (state,) = prepared.state.inputs
    assert state.normalization is not None and state.normalization.method == "standardize"
    train = prepared.inputs[0][prepared.split.train]
    np.testing.assert_allclose(state.normalization.shift, train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(state.normalization.scale, train.std(axis=0), rtol=1e-5)
