"""Raw samples through the exported model.py's `predict` give the app's predictions.

A table (iris), an image (digits) and a text (reviews) template are trained for one epoch;
their Python export is run in a fresh interpreter (``-I``, working directory in tmp, the
studio package made unimportable) on raw test samples, and compared with what the app's own
pipeline (the data pipeline's preprocessing, then the model) gives for the same samples.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from studio.export.preprocessing import PREPROCESSING_FILE
from studio.training.trained import TrainedRun
from tests.export.fresh_interpreter import import_generated
from tests.export.trained_runs import export_run, train_template

EXAMPLES = {
    "table": "mlp_classifier",  # iris
    "image": "cnn_classifier",  # digits
    "text": "gru_text_classifier",  # reviews
}

STANDALONE = """
import json, sys
sys.modules["studio"] = None  # the export must not need Strata Studio
sys.path.insert(0, sys.argv[1])
import model
with open(sys.argv[2]) as handle:
    raw = json.load(handle)
print(json.dumps(model.predict(raw).tolist()))
"""


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainedRun]:
    return {
        kind: train_template(stem, tmp_path_factory.mktemp(stem)) for kind, stem in EXAMPLES.items()
    }


def jsonable(sample: Any) -> Any:
    if isinstance(sample, np.ndarray):
        return sample.tolist()
    return sample


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_predict_on_raw_samples_matches_the_app(
    kind: str, trained_runs: dict[str, TrainedRun], tmp_path: Path
) -> None:
    trained = trained_runs[kind]
    report, app = export_run(trained, ["python"], tmp_path / "export")
    result = report.result("python")
    assert result.ok, result.reason
    assert result.path is not None
    assert report.preprocessing == tmp_path / "export" / PREPROCESSING_FILE
    assert (result.path / PREPROCESSING_FILE).is_file()
    assert report.model_card is not None
    assert f"`{PREPROCESSING_FILE}`" in report.model_card.read_text(encoding="utf-8")
    assert app.raw is not None and app.outputs is not None

    # In this interpreter: preprocess gives the app's exact inputs.
    generated: Any = import_generated(result.path / "model.py")
    inputs = generated.preprocess(app.raw)
    for got, want in zip(inputs, app.inputs, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert torch.equal(got, want)

    # In a fresh interpreter without the studio package: predict gives the app's outputs.
    raw_file = tmp_path / "raw.json"
    raw_file.write_text(json.dumps([jsonable(s) for s in app.raw]))
    script = tmp_path / "run_export.py"
    script.write_text(STANDALONE)
    done = subprocess.run(
        [sys.executable, "-I", str(script), str(result.path), str(raw_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outputs = torch.tensor(json.loads(done.stdout.strip().splitlines()[-1]))
    diff = float((outputs - app.outputs.double()).abs().max())
    assert diff <= 1e-4

    # One raw sample on its own is a batch of one.
    single = generated.predict(app.raw[0])
    assert single.shape[0] == 1
    assert float((single[0] - app.outputs[0]).abs().max()) <= 1e-4
    names = generated.predict_classes(app.raw[:2])
    assert all(n in trained.data.preprocessing.class_names for n in names)


def test_a_table_row_may_be_given_as_values_in_column_order(
    trained_runs: dict[str, TrainedRun], tmp_path: Path
) -> None:
    trained = trained_runs["table"]
    report, app = export_run(trained, ["python"], tmp_path)
    assert report.result("python").path is not None
    generated: Any = import_generated(report.result("python").path / "model.py")  # type: ignore[operator]
    assert app.raw is not None and app.outputs is not None
    as_values = [list(row.values()) for row in app.raw]
    assert torch.allclose(generated.predict(as_values), app.outputs, atol=1e-4)


@pytest.mark.parametrize("color", ["grayscale", "rgb"])
def test_image_files_are_read_and_resized_as_the_image_folder_source_reads_them(
    color: str, tmp_path: Path
) -> None:
    from PIL import Image

    from studio.data.sources.images import decode_image
    from studio.export.preprocessing import PREPROCESS_SOURCE

    generator = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray(generator.integers(0, 256, (13, 17, 3), dtype=np.uint8)).save(path)
    namespace: dict[str, Any] = {"torch": torch}
    exec(PREPROCESS_SOURCE, namespace)
    image = {"size": [8, 10], "color": color}
    read = namespace["_read_image"](str(path), image)
    assert torch.equal(read, torch.tensor(decode_image(path, (8, 10), color)))
    channels = 1 if color == "grayscale" else 3
    state = {
        "encoder": {},
        "image": image,
        "inputs": [{"name": "image", "shape": [channels, 8, 10], "dtype": "float"}],
    }
    (batch,) = namespace["preprocess"]([str(path), path], state)
    assert batch.shape == (2, channels, 8, 10) and batch.dtype == torch.float32
