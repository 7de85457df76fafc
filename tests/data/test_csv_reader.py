"""Broken CSV files give one message naming the file, the row and the column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from studio.data.csv_reader import read_csv_columns
from studio.data.errors import DataEncodingError, DataError

Write = Callable[[str, str | bytes], Path]


def read(path: Path, **options: object):
    return read_csv_columns(path, path.name, **options)  # type: ignore[arg-type]


def test_reads_numbers_and_text_columns(write: Write) -> None:
    columns = read(write("t.csv", "a,b,c\n1,x,2.5\n2,y,\n3, z ,4\n"))
    assert columns.names == ["a", "b", "c"] and columns.rows == 3
    assert columns.numeric == {"a": True, "b": False, "c": True}
    np.testing.assert_array_equal(columns.values["a"], [1.0, 2.0, 3.0])
    assert columns.values["a"].dtype == np.float64
    assert columns.missing("c").tolist() == [False, True, False]
    assert list(columns.values["b"]) == ["x", "y", " z "]  # text as it is; sources strip it


def test_missing_file_and_folder_and_empty_file(tmp_path: Path, write: Write) -> None:
    with pytest.raises(DataError, match=r"^nope\.csv: no such file$"):
        read_csv_columns(tmp_path / "nope.csv", "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_csv_columns(tmp_path, "data")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        read(write("empty.csv", ""))


def test_a_row_with_too_many_values_names_its_line(write: Write) -> None:
    path = write("wide.csv", "a,b,c\n1,2,3\n\n4,5,6,7\n8,9,10\n")
    with pytest.raises(DataError, match=r"^wide\.csv, row 4: 4 values, but the header names 3"):
        read(path)


def test_a_row_with_too_few_values_names_its_line(write: Write) -> None:
    # pandas pads a short row with missing values; the reader still reports it.
    path = write("short.csv", "a,b,c\n1,2,3\n4,5,\n6,7\n8,9,10\n")
    with pytest.raises(DataError, match=r"^short\.csv, row 4: 2 values, but the header names 3"):
        read(path)


def test_an_empty_last_value_is_missing_not_ragged(write: Write) -> None:
    columns = read(write("ok.csv", "a,b,c\n1,2,3\n4,5,\n"))
    assert columns.missing("c").tolist() == [False, True]


def test_a_word_in_a_numeric_column_names_row_and_column(write: Write) -> None:
    rows = "\n".join(f"{i},{i * 0.1:.1f}" for i in range(20))
    text = "id,petal_width\n" + rows.replace("15,1.5", "15,abc") + "\n"
    columns = read(write("iris.csv", text))
    assert not columns.numeric["petal_width"] and columns.mostly_numbers("petal_width")
    with pytest.raises(
        DataError, match=r"^iris\.csv, row 17, column 'petal_width': 'abc' is not a number"
    ):
        columns.numbers("petal_width")


def test_latin1_file_is_an_encoding_error_naming_row_and_column(write: Write) -> None:
    data = "name,city\nAnna,Paris\nJosé,Málaga\n".encode("latin-1")
    path = write("people.csv", data)
    with pytest.raises(DataEncodingError) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith("people.csv, row 3, column 'name': byte 0xE9 is not valid utf-8")
    assert "Latin-1" in message and "fallback encoding" in message


def test_a_chosen_fallback_encoding_reads_the_file_and_says_so(write: Write) -> None:
    path = write("people.csv", "name,city\nJosé,Málaga\n".encode("latin-1"))
    columns = read(path, fallback_encoding="latin-1")
    assert list(columns.values["name"]) == ["José"]
    assert columns.encoding == "latin-1"
    assert any("read as latin-1" in note for note in columns.notes)


def test_utf16_is_recognised_and_reads_when_chosen(write: Write) -> None:
    path = write("wide.csv", "a,b\n1,2\n".encode("utf-16"))
    with pytest.raises(DataEncodingError, match="UTF-16"):
        read(path)
    columns = read(path, encoding="utf-16")
    assert columns.names == ["a", "b"] and columns.values["b"].tolist() == [2.0]


def test_utf8_with_a_byte_order_mark_reads(write: Write) -> None:
    columns = read(write("excel.csv", "\ufeffa,b\n1,2\n"))
    assert columns.names == ["a", "b"]


def test_header_problems(write: Write) -> None:
    with pytest.raises(DataError, match=r"row 1: the column name 'a' appears twice"):
        read(write("dup.csv", "a,b,a\n1,2,3\n"))
    with pytest.raises(DataError, match=r"row 1: column 2 has no name"):
        read(write("blank.csv", "a,,c\n1,2,3\n"))


def test_an_unclosed_quote_is_reported(write: Write) -> None:
    with pytest.raises(DataError, match="quote opened here is never closed"):
        read(write("q.csv", 'a,b\n1,"oops\n2,3\n'))


def test_quoted_delimiters_and_other_delimiters(write: Write) -> None:
    columns = read(write("q.csv", 'text,n\n"hello, world",1\n'))
    assert list(columns.values["text"]) == ["hello, world"]
    columns = read(write("semi.csv", "a;b\n1,5;2\n"), delimiter=";")
    assert columns.names == ["a", "b"]


def test_unknown_columns_are_named(write: Write) -> None:
    with pytest.raises(DataError, match=r"no column named 'x'; the columns are 'a', 'b'"):
        read(write("t.csv", "a,b\n1,2\n"), usecols=["x"])
