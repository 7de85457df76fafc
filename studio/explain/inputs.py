"""An input to explain that the user gives instead of a dataset sample (an imported model).

`studio explain --input FILE.npy` and the Explain tab's "Open input…" read the same file
through `read_input_array`, so a file the command refuses is refused in the window with the
same sentence; "Random input" draws one of the model's shape for a quick look. Nothing here
needs the project's data: the Input node's recorded shape and dtype say what the model takes.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from studio.explain.errors import ExplainError

if TYPE_CHECKING:
    import torch

    from studio.core.project import Project

#: The largest input file read (one sample; an image is far smaller).
MAX_INPUT_BYTES = 256 * 1024 * 1024


def model_input(project: Project) -> tuple[str, tuple[int, ...], str]:
    """The main graph's one Input node: its name, per-sample shape and dtype ("float"/"long")."""
    graph = project.main_graph
    nodes = [n for n in graph.nodes if graph.spec(n.id).role == "input"]
    if len(nodes) != 1:
        raise ExplainError("explaining models with several inputs is not supported yet")
    node = nodes[0]
    shape = tuple(int(d) for d in node.params["shape"])  # type: ignore[union-attr]
    return node.name, shape, str(node.params.get("dtype") or "float")


def input_description(project: Project) -> str:
    """ "one input of shape (12,) (float32)", for messages saying what an input file holds."""
    _, shape, dtype = model_input(project)
    return f"one input of shape {shape} ({'int64 token ids' if dtype == 'long' else 'float32'})"


def vocabulary_size(project: Project) -> int | None:
    """The smallest Embedding's vocabulary: token ids must stay below it (None: no Embedding)."""
    return min(
        (
            int(n.params["num_embeddings"])  # type: ignore[arg-type]
            for n in project.main_graph.nodes
            if "num_embeddings" in n.params
        ),
        default=None,
    )


def read_input_array(path: Path, project: Project) -> np.ndarray:
    """One sample for the model from a NumPy .npy file, as a batch of one.

    The file is untrusted: read through `safe_files` (bounded, regular files only) and
    without pickles; its shape and dtype must be the Input node's, token ids within the
    smallest Embedding's vocabulary, so that a bad file is a sentence, not a torch error.

    Returns:
        float32 of shape (1, *shape), or int64 token ids for a "long" input.
    """
    from studio.core.safe_files import read_bytes_bounded

    name, shape, dtype = model_input(project)
    content = read_bytes_bounded(path, MAX_INPUT_BYTES, what="--input file")
    try:
        array = np.load(io.BytesIO(content), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ExplainError(
            f"{path}: not a NumPy .npy file ({exc}); save one with numpy.save"
        ) from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise ExplainError(f"{path}: holds no numeric array; save one with numpy.save")
    if tuple(array.shape) == shape:
        array = array[None]
    if tuple(array.shape) != (1, *shape):
        raise ExplainError(
            f"{path}: holds an array of shape {tuple(array.shape)}; the input {name!r} takes "
            f"one sample of shape {shape} (or {(1, *shape)})"
        )
    if dtype != "long":
        return np.ascontiguousarray(array, dtype=np.float32)
    if array.dtype.kind not in "biu":
        raise ExplainError(
            f"{path}: the input {name!r} takes integer token ids; it holds {array.dtype}"
        )
    vocabulary = vocabulary_size(project)
    if array.size and (array.min() < 0 or (vocabulary is not None and array.max() >= vocabulary)):
        raise ExplainError(
            f"{path}: token ids run from {array.min()} to {array.max()}; the model's vocabulary "
            f"takes 0 to {(vocabulary or 1) - 1}"
        )
    return np.ascontiguousarray(array, dtype=np.int64)


def read_input_sample(path: Path, project: Project) -> torch.Tensor:
    """`read_input_array` as a tensor: what `studio explain --input FILE.npy` explains."""
    import torch

    return torch.from_numpy(read_input_array(path, project))


def random_input(project: Project, seed: int = 0) -> np.ndarray:
    """A batch of one random input of the model's shape, for a look without any file.

    Floats are standard normal (what normalised data looks like); token ids are uniform
    below the vocabulary, so every Embedding can take them.
    """
    _, shape, dtype = model_input(project)
    rng = np.random.default_rng(seed)
    if dtype == "long":
        # No Embedding: ids the model takes as numbers; 0 and 1 are safe for any of them.
        return rng.integers(0, vocabulary_size(project) or 2, size=(1, *shape), dtype=np.int64)
    return rng.standard_normal((1, *shape)).astype(np.float32)
