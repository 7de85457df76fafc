"""NumPy `.npy`/`.npz` arrays: layouts, targets, and files that are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.data_settings import ArraySource
from studio.data.errors import DataError
from studio.data.sources.arrays import read_arrays


def arrays(tmp_path: Path, name: str, **settings: object):
    return read_arrays(ArraySource(path=name, **settings), tmp_path)  # type: ignore[arg-type]


def test_npz_images_with_labels(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((30, 28, 28)).astype(np.float32)
    y = np.arange(30) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    raw = arrays(tmp_path, "d.npz")
    assert raw.kind == "image" and raw.task == "classification"
    assert raw.encoder.input_specs()[0].shape == (1, 28, 28)
    assert raw.class_names == ["0", "1", "2"]


def test_npz_channels_last_images_are_moved_first(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "d.npz",
        images=np.zeros((6, 16, 16, 3), np.uint8),
        labels=np.array(list("abcabc")),
    )
    raw = arrays(tmp_path, "d.npz")
    assert raw.encoder.input_specs()[0].shape == (3, 16, 16)
    assert raw.class_names == ["a", "b", "c"]


def test_npy_table_with_regression_targets(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((50, 7)))
    np.save(tmp_path / "y.npy", np.random.default_rng(1).random(50))
    raw = arrays(tmp_path, "x.npy", targets="y.npy")
    assert raw.kind == "table" and raw.task == "regression"
    assert raw.target is not None and raw.target.shape == (50, 1)
    (features,) = raw.encoder.encode()
    assert features.dtype == np.float32  # float64 halves to float32 on reading


def test_sequences_tokens_and_no_targets(tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.zeros((10, 20), np.float32))
    raw = arrays(tmp_path, "s.npy", layout="sequence")
    assert raw.encoder.input_specs()[0].shape == (20, 1) and raw.task == "none"
    np.save(tmp_path / "t.npy", np.arange(40).reshape(4, 10))
    (spec,) = arrays(tmp_path, "t.npy", layout="tokens").encoder.input_specs()
    assert spec.dtype == "long" and spec.cardinality == 40


def test_refused_files(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="holds Python objects"):
        arrays(tmp_path, "obj.npy")
    np.save(tmp_path / "x.npy", np.zeros((5, 3)))
    np.save(tmp_path / "y.npy", np.zeros(4))
    with pytest.raises(DataError, match=r"^y\.npy: 4 targets, but x\.npy holds 5 samples"):
        arrays(tmp_path, "x.npy", targets="y.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match=r"not a NumPy \.npz archive"):
        arrays(tmp_path, "bad.npz")
    np.savez(tmp_path / "many.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(DataError, match="say which array holds the inputs"):
        arrays(tmp_path, "many.npz")
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(DataError, match="sample 0 holds a NaN"):
        arrays(tmp_path, "nan.npy")
