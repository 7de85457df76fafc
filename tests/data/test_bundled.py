"""Every bundled dataset loads with the right shapes, dtypes, labels and splits."""

from __future__ import annotations

import numpy as np
import torch

from studio.core.project import DataSection
from studio.data.pipeline import load_data

EXPECTED = {
    # name: (input shape, input dtype, target shape, target dtype, classes or None)
    "iris": ((4,), torch.float32, (), torch.int64, ["setosa", "versicolor", "virginica"]),
    "digits": ((1, 8, 8), torch.float32, (), torch.int64, [str(d) for d in range(10)]),
    "diabetes": ((10,), torch.float32, (1,), torch.float32, None),
    "shapes": ((1, 32, 32), torch.float32, (), torch.int64, ["circle", "square", "triangle"]),
    "sine": ((32, 1), torch.float32, (1,), torch.float32, None),
    "text": ((64,), torch.int64, (), torch.int64, ["negative", "positive"]),
}


def test_every_bundled_dataset_loads_as_described() -> None:
    for name, (shape, dtype, target_shape, target_dtype, classes) in EXPECTED.items():
        data = load_data(DataSection(dataset=name))
        x, y = data.train[list(range(8))]
        assert tuple(x.shape[1:]) == shape and x.dtype == dtype, name
        assert tuple(y.shape[1:]) == target_shape and y.dtype == target_dtype, name
        assert data.inputs[0].shape == shape
        if classes is not None:
            assert data.class_names == classes
        sizes = data.split_sizes()
        assert sizes["train"] > sizes["validation"] > 0 and sizes["test"] > 0, name


def test_iris_digits_and_diabetes_are_the_real_tables() -> None:
    iris = load_data(DataSection(dataset="iris"))
    target = iris.prepared.target
    assert target is not None and np.bincount(target).tolist() == [50, 50, 50]
    np.testing.assert_allclose(iris.prepared.inputs[0][0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)
    digits = load_data(DataSection(dataset="digits"))
    pixels = digits.prepared.inputs[0]
    assert pixels.dtype == np.uint8 and pixels.max() == 16 and len(pixels) == 1797
    assert digits.prepared.target is not None and digits.prepared.target[:3].tolist() == [0, 1, 2]
    diabetes = load_data(DataSection(dataset="diabetes"))
    assert diabetes.prepared.target is not None
    assert diabetes.prepared.target[:2, 0].tolist() == [151.0, 75.0]


def test_shapes_come_with_object_masks() -> None:
    data = load_data(DataSection(dataset="shapes"))
    masks = data.test.aux_of(list(range(5)))["mask"]
    x, _ = data.test[list(range(5))]
    assert masks.shape == (5, 1, 32, 32) and masks.dtype == torch.bool
    # The object is brighter than the noise around it.
    assert all(float(x[i][masks[i]].mean()) > float(x[i][~masks[i]].mean()) for i in range(5))


def test_sine_is_split_in_time() -> None:
    data = load_data(DataSection(dataset="sine"))
    assert data.split_sizes() == {"train": 8 * 388, "validation": 8 * 58, "test": 8 * 58}
    assert not data.signature.target.class_names
