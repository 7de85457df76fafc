"""Rewrites iris, digits and diabetes from a scikit-learn wheel into this folder's formats.

How the bundled copies were made (run once; Strata Studio does not depend on scikit-learn):

    pip download scikit-learn==1.9.1 --no-deps -d /tmp/skl
    python assets/datasets/import_from_sklearn.py /tmp/skl/scikit_learn-1.9.1-*.whl

iris.csv gets a header and species names; digits.csv.gz is copied byte for byte (64 pixel
values and the digit per row, no header); diabetes.csv joins the raw (unscaled) features and
the target, with the column names of the dataset's description.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = "sklearn/datasets/data/"
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
DIABETES_COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def main(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        iris = archive.read(DATA + "iris.csv").decode("ascii").splitlines()
        digits = archive.read(DATA + "digits.csv.gz")
        features = gzip.decompress(archive.read(DATA + "diabetes_data_raw.csv.gz")).decode()
        target = gzip.decompress(archive.read(DATA + "diabetes_target.csv.gz")).decode()

    # The first line is "150,4,setosa,versicolor,virginica": the count and the class names.
    names = iris[0].split(",")[2:]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(IRIS_COLUMNS)
    for line in iris[1:]:
        *measures, species = line.split(",")
        writer.writerow([*measures, names[int(species)]])
    (HERE / "iris.csv").write_text(out.getvalue(), encoding="utf-8")

    (HERE / "digits.csv.gz").write_bytes(digits)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*DIABETES_COLUMNS, "progression"])
    for row, value in zip(features.splitlines(), target.splitlines(), strict=True):
        writer.writerow([*row.split(), f"{float(value):g}"])
    (HERE / "diabetes.csv").write_text(out.getvalue(), encoding="utf-8")
    print("wrote iris.csv, digits.csv.gz and diabetes.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
