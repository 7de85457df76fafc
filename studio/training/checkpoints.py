"""`last.pt` / `best.pt`: written atomically, read with `weights_only=True`.

A checkpoint holds only tensors and plain values (state dicts, epoch, step, RNG states as
tensors), so loading one never runs code: `torch.load(weights_only=True)` refuses a pickle
that asks for anything else, and we turn that refusal into a clear message.
"""

from __future__ import annotations

import io
import pickle
import random
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.project import atomic_write_bytes
from studio.training.errors import CheckpointError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Serialise in memory, then temp file + fsync + `os.replace`: never a half-written file."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely.

    Raises:
        CheckpointError: missing, truncated/corrupted, or holding more than plain data.
    """
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with warnings.catch_warnings():
            # torch warns about a pickle protocol it then refuses anyway; the error says it all.
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise CheckpointError(
                f"{path}: refused: the checkpoint asks to run {found.group(1)}, and a checkpoint "
                "may hold only tensors and plain values; it was not loaded. Only use checkpoints "
                "from runs you trust."
            ) from None
        raise CheckpointError(
            f"{path}: the checkpoint is damaged or not a Strata Studio checkpoint "
            "(it is not plain tensor data); retrain, or resume from another run"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: the checkpoint is damaged or truncated and cannot be read ({reason[:120]})"
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path}: not a Strata Studio checkpoint")
    return state


def capture_rng_state() -> dict[str, torch.Tensor]:
    """Python's, numpy's and torch's generator states as tensors (weights_only can load them)."""
    version, internal, gauss = random.getstate()
    _, keys, position, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    state = {
        "python": torch.tensor([version, *internal], dtype=torch.int64),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_extra": torch.tensor([position, has_gauss, cached], dtype=torch.float64),
        "torch": torch.get_rng_state(),
    }
    if gauss is not None:
        state["python_gauss"] = torch.tensor([gauss], dtype=torch.float64)
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng_state(state: dict[str, torch.Tensor]) -> None:
    python = [int(v) for v in state["python"].tolist()]
    gauss = float(state["python_gauss"][0]) if "python_gauss" in state else None
    random.setstate((python[0], tuple(python[1:]), gauss))
    position, has_gauss, cached = state["numpy_extra"].tolist()
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, int(position), int(has_gauss), float(cached)))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
