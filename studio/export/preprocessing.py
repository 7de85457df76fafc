"""Preprocessing exported with the model, so that predictions elsewhere match the app's.

A run saves its fitted `PreprocessingState` as ``preprocessing.json``. An export writes that
document beside the exported files (with the image size and colour of an image-folder source
added, since those are applied while reading), and the standalone ``model.py`` carries
`PREPROCESS_SOURCE`: ``preprocess(raw)`` does what `studio.data` does to raw data (table
encoding with the fitted fill values and categories, tokenisation and vocabulary look-up,
image reading and resizing, then the fitted normalisation, in float32 with the same operations),
and ``predict(raw)`` runs the model on it. The generated code needs only torch (Pillow to read
image files), never this package.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from studio.data.prepare import PreparedData

PREPROCESSING_FILE = "preprocessing.json"


def preprocessing_document(
    state: Mapping[str, Any], data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The run's preprocessing state (`PreprocessingState.to_json()`) as it is exported.

    Args:
        state: the run's ``preprocessing.json`` content.
        data: the project's data section (``model_dump(mode="json")``); an image-folder
            source adds how images are read (size and colour) to the document.
    """
    document = copy.deepcopy(dict(state))
    source = (data or {}).get("source") or {}
    if source.get("kind") == "image_folder":
        document["image"] = {"size": list(source["size"]), "color": source["color"]}
    return document


def fits_inputs(document: Mapping[str, Any], input_shapes: Sequence[tuple[int, ...]]) -> str:
    """Why the preprocessing cannot feed a model with these input shapes; "" when it can."""
    inputs = document.get("inputs") or []
    if len(inputs) != len(input_shapes):
        return (
            f"the data gives {len(inputs)} input(s) and the model takes {len(input_shapes)}, "
            "so preprocessing is not exported with it"
        )
    for spec, shape in zip(inputs, input_shapes, strict=True):
        if tuple(spec["shape"]) != tuple(shape):
            return (
                f"the data's {spec['name']!r} samples have shape {tuple(spec['shape'])} and "
                f"the model's input {tuple(shape)}, so preprocessing is not exported with it"
            )
    return ""


def raw_samples(prepared: PreparedData, rows: Sequence[int] | np.ndarray) -> list[Any]:
    """The given samples as a user would hand them to ``predict``: before any encoding.

    A table row is a dict of column → value as read, a text is its string, an image or window
    is its array as read (uint8 pixels for images); a model with several array inputs gets a
    tuple per sample.
    """
    encoder = prepared.raw.encoder
    state = encoder.state()
    rows = [int(r) for r in rows]
    if state.get("type") == "text":
        texts: list[str] = encoder.texts  # type: ignore[attr-defined]
        return [texts[r] for r in rows]
    if state.get("type") == "table":
        columns = encoder.columns  # type: ignore[attr-defined]
        return [{name: _plain(columns.values[name][r]) for name in state["features"]} for r in rows]
    arrays = encoder.encode()
    if len(arrays) == 1:
        return [arrays[0][r] for r in rows]
    return [tuple(a[r] for a in arrays) for r in rows]


def _plain(value: object) -> object:
    """A numpy scalar as the Python value a user would type."""
    return value.item() if isinstance(value, np.generic) else value


#: Appended to the generated `model.py` (after `load_model`) when preprocessing is exported.
PREPROCESS_SOURCE = '''

# ---- preprocessing: raw data prepared exactly as Strata Studio prepared it for training
import json
import math
import re

PREPROCESSING_FILE = "preprocessing.json"
_WORD = re.compile(r"\\w+(?:'\\w+)*|[^\\w\\s]")
_CACHE = {}


def load_preprocessing(path=None):
    """The fitted preprocessing saved with the training run (``preprocessing.json``)."""
    import os

    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), PREPROCESSING_FILE)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _state():
    if "state" not in _CACHE:
        _CACHE["state"] = load_preprocessing()
    return _CACHE["state"]


def _normalize(batch, normalization, sample_ndim):
    if not normalization:
        return batch
    shape = [1] * (sample_ndim + 1)
    shape[int(normalization["axis"]) + 1] = len(normalization["shift"])
    shift = torch.tensor(normalization["shift"], dtype=torch.float32).reshape(shape)
    scale = torch.tensor(normalization["scale"], dtype=torch.float32).reshape(shape)
    return (batch - shift) / scale


def _missing(value):
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _encode_table(rows, encoder):
    features = encoder["features"]
    numeric = set(encoder["numeric"])
    categories = encoder["categories"]
    fill = encoder.get("fill") or {}
    onehot = encoder["categorical_encoding"] == "onehot"
    values_rows, id_rows = [], []
    for row in rows:
        if not isinstance(row, dict):
            row = dict(zip(features, row))
        values, ids, offset = [], [], 0
        for name in features:
            value = row.get(name)
            if name in numeric:
                if _missing(value):
                    if fill.get(name) is None:
                        raise ValueError(
                            f"{name!r} has no value, and the model was trained without such rows"
                        )
                    value = fill[name]
                values.append(float(value))
                continue
            known = categories[name]
            text = fill.get(name) if _missing(value) else str(value).strip()
            code = known.index(text) if text in known else -1
            if onehot:
                values.extend(1.0 if i == code else 0.0 for i in range(len(known)))
            else:
                ids.append(code + 1 + offset)
                offset += len(known) + 1
        values_rows.append(values)
        id_rows.append(ids)
    out = []
    if values_rows and values_rows[0]:
        # float64 first, then float32: the rounding of a CSV number read as float64.
        out.append(torch.tensor(values_rows, dtype=torch.float64).to(torch.float32))
    if id_rows and id_rows[0]:
        out.append(torch.tensor(id_rows, dtype=torch.long))
    return out


def _tokenize(text, encoder):
    if encoder.get("lowercase", True):
        text = text.lower()
    if encoder.get("tokens") == "char":
        return list(text)
    return _WORD.findall(text)


def _encode_text(texts, encoder):
    if "ids" not in _CACHE or _CACHE.get("vocabulary") is not encoder["vocabulary"]:
        _CACHE["vocabulary"] = encoder["vocabulary"]
        _CACHE["ids"] = {token: i for i, token in enumerate(encoder["vocabulary"])}
    ids = _CACHE["ids"]
    length = int(encoder["max_length"])
    rows = []
    for text in texts:
        row = [ids.get(token, 1) for token in _tokenize(str(text), encoder)[:length]]
        rows.append(row + [0] * (length - len(row)))
    return [torch.tensor(rows, dtype=torch.long)]


def _read_image(item, image):
    """An image file (or a PIL image) as uint8 (C, H, W), resized as the app read it."""
    from PIL import Image

    if not image:
        raise ValueError("this model was not trained on image files; pass arrays instead")
    picture = item if hasattr(item, "convert") else Image.open(item)
    picture = picture.convert("L" if image["color"] == "grayscale" else "RGB")
    height, width = image["size"]
    if picture.size != (width, height):
        picture = picture.resize((width, height), Image.Resampling.BILINEAR)
    pixels = torch.frombuffer(bytearray(picture.tobytes()), dtype=torch.uint8)
    channels = 1 if image["color"] == "grayscale" else 3
    return pixels.reshape(height, width, channels).permute(2, 0, 1).contiguous()


def _is_file(item):
    import os

    return isinstance(item, (str, os.PathLike)) or hasattr(item, "convert")


def _array_batch(raw, spec, image):
    shape = tuple(spec["shape"])
    if isinstance(raw, (list, tuple)) and raw and _is_file(raw[0]):
        return torch.stack([_read_image(item, image) for item in raw])
    if _is_file(raw):
        return _read_image(raw, image).unsqueeze(0)
    if isinstance(raw, (list, tuple)) and raw and hasattr(raw[0], "shape"):
        batch = torch.stack([torch.as_tensor(item) for item in raw])
    else:
        batch = torch.as_tensor(raw)
    if tuple(batch.shape) == shape or (shape[:1] == (1,) and tuple(batch.shape) == shape[1:]):
        batch = batch.reshape(shape).unsqueeze(0)  # one sample (a one-channel image may
    elif batch.dim() == len(shape) and shape[0] == 1:  # come without its channel axis)
        batch = batch.unsqueeze(1)
    return batch


def preprocess(raw, state=None):
    """Raw samples → the model's inputs (a tuple of tensors, one per model input).

    `raw` is one sample or a list of them: a table row as a dict of column → value (or the
    values in the training columns' order), a text string, an image as an array (C, H, W) or
    (H, W) of pixel values as read, or an image file path when the model was trained on an
    image folder. A batch of arrays (N, ...) works too.
    """
    state = state or _state()
    encoder = state.get("encoder") or {}
    inputs = state["inputs"]
    if encoder.get("type") == "text":
        tensors = _encode_text([raw] if isinstance(raw, str) else list(raw), encoder)
    elif encoder.get("type") == "table":
        one = isinstance(raw, dict) or (
            isinstance(raw, (list, tuple)) and raw and not isinstance(raw[0], (dict, list, tuple))
        )
        tensors = _encode_table([raw] if one else list(raw), encoder)
    elif len(inputs) == 1:
        tensors = [_array_batch(raw, inputs[0], state.get("image"))]
    else:
        parts = list(zip(*raw)) if isinstance(raw, list) else raw
        tensors = [
            _array_batch(list(part) if isinstance(raw, list) else part, spec, None)
            for part, spec in zip(parts, inputs)
        ]
    out = []
    for tensor, spec in zip(tensors, inputs):
        if spec["dtype"] == "long":
            out.append(tensor.long())
        else:
            out.append(_normalize(tensor.float(), spec.get("normalization"), len(spec["shape"])))
    return tuple(out)


def predict(raw, model=None):
    """The model's outputs for raw samples, as the app computes them.

    Regression outputs are returned in the target's own units (the training target was
    normalised); a classifier returns its logits (see `predict_classes`).
    """
    if model is None:
        if "model" not in _CACHE:
            _CACHE["model"] = load_model()
        model = _CACHE["model"]
    state = _state()
    with torch.no_grad():
        outputs = model(*preprocess(raw, state))
    target = state.get("target")
    if target and isinstance(outputs, torch.Tensor):
        shape = [1] * outputs.dim()
        shape[int(target["axis"]) + 1] = len(target["shift"])
        shift = torch.tensor(target["shift"], dtype=torch.float32).reshape(shape)
        scale = torch.tensor(target["scale"], dtype=torch.float32).reshape(shape)
        outputs = outputs * scale + shift
    return outputs


def predict_classes(raw, model=None):
    """A classifier's predicted class names for raw samples."""
    names = _state().get("class_names") or []
    logits = predict(raw, model)
    return [names[i] if i < len(names) else i for i in logits.argmax(dim=-1).tolist()]
'''
