"""`last.pt` / `best.pt`: written atomically, read with `weights_only=True`.

A checkpoint holds only tensors and plain values (state dicts, epoch, step, RNG states as
tensors), so loading one never runs code: `torch.load(weights_only=True)` refuses a pickle
that asks for anything else, and we turn that refusal into a clear message.

The weights are stored once, under "mode" → "models" → role ("model", or "generator" and
"discriminator"), which is what a resume loads; every reader takes them from there through
`checkpoint_models`. Checkpoints written before that (format 1) also held the main model's
weights under a top-level "model": for those the same rule holds (the mode's copy wins, the
top-level copy is read only when the mode's is missing), so evaluate, export, explain and
resume always read one and the same copy.
"""

from __future__ import annotations

import io
import math
import pickle
import random
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.errors import FileReadError
from studio.core.project import atomic_write_bytes
from studio.core.safe_files import open_regular
from studio.training.errors import CheckpointError

FORMAT = 2  # 1: the main model's weights also at the top level under "model"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Serialise in memory, then temp file + fsync + `os.replace`: never a half-written file."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, *, within: Path | None = None) -> dict[str, Any]:
    """Read a checkpoint safely: a regular file (never a FIFO or device), plain data only.

    Args:
        path: the checkpoint.
        within: the run folder; a checkpoint that links out of it is refused.

    Raises:
        CheckpointError: missing, not a regular file, truncated/corrupted, holding more than
            plain data, or holding no weights.
    """
    try:
        with open_regular(path, within=within, what="checkpoint") as handle:
            state = _torch_load(path, handle)
    except FileReadError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a Strata Studio checkpoint (not a dictionary)")
    checkpoint_models(state, path)  # refuses a checkpoint without usable weights
    return state


def _torch_load(path: Path, handle: Any) -> Any:
    try:
        with warnings.catch_warnings():
            # torch warns about a pickle protocol it then refuses anyway; the error says it all.
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(handle, map_location="cpu", weights_only=True)
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
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OverflowError,
        MemoryError,
        RecursionError,
    ) as exc:
        # A damaged zip or pickle fails deep inside torch in many ways; all mean "damaged".
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: the checkpoint is damaged or truncated and cannot be read ({reason[:120]})"
        ) from None


def checkpoint_models(state: Mapping[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    """Every model's weights by role, from the one copy every reader reads.

    The mode's "models" when the checkpoint has them (what a resume loads), else (an older
    checkpoint without them) the top-level "model". Each is a dict of tensors by name.

    Raises:
        CheckpointError: neither is there, or one is not a dict of tensors.
    """
    mode = state.get("mode")
    models = mode.get("models") if isinstance(mode, dict) else None
    if models is not None:
        where = "mode.models"
        if not isinstance(models, dict) or not models:
            raise CheckpointError(f"{path}: the checkpoint's {where} holds no model weights")
    elif "model" in state:
        where, models = "model", {"model": state["model"]}
    else:
        raise CheckpointError(f"{path}: not a Strata Studio checkpoint (it holds no weights)")
    for role, weights in models.items():
        field = f"{where}.{role}" if where == "mode.models" else where
        if not isinstance(role, str) or not isinstance(weights, dict):
            raise CheckpointError(f"{path}: {field} in the checkpoint is not a set of weights")
        for name, tensor in weights.items():
            if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
                raise CheckpointError(
                    f"{path}: {field} in the checkpoint holds {name!r}, which is not a tensor"
                )
    return dict(models)


def main_weights(models: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The main model's weights: the supervised "model", a GAN's "generator", else the first."""
    for role in ("model", "generator"):
        if role in models:
            return models[role]
    return next(iter(models.values()))


def load_main_weights(path: Path, *, within: Path | None = None) -> dict[str, Any]:
    """The main model's weights in the checkpoint at `path` (see `checkpoint_models`)."""
    state = load_checkpoint(path, within=within)
    return main_weights(checkpoint_models(state, path))


def check_resume_state(state: Mapping[str, Any], path: Path, epochs: int) -> None:
    """Refuse a checkpoint a resume could not continue from, naming the field.

    Args:
        state: a checkpoint read with `load_checkpoint`.
        path: its file, for the message.
        epochs: how many epochs the resumed run is to reach.

    Raises:
        CheckpointError: a field missing or of the wrong kind or range.
    """
    epoch = _whole(state, "epoch", path)
    _whole(state, "step", path)
    if epoch > epochs:
        raise CheckpointError(
            f"{path}: the checkpoint's epoch is {epoch}, past the {epochs} epochs the run is "
            "to reach; resume with more epochs (--epochs)"
        )
    mode = state.get("mode")
    if not isinstance(mode, dict):
        raise CheckpointError(
            f"{path}: the checkpoint has no 'mode' (optimizer and scheduler state), so the run "
            "cannot be resumed from it; start a new run (it can start from these weights with "
            "training.initial_weights)"
        )
    for key in ("optimizers", "schedulers"):
        if key in mode and not isinstance(mode[key], dict):
            raise CheckpointError(f"{path}: mode.{key} in the checkpoint is not a dictionary")
    progress = state.get("epoch_progress")
    if progress is not None:
        if not isinstance(progress, dict):
            raise CheckpointError(f"{path}: epoch_progress in the checkpoint is not a dictionary")
        _whole(progress, "batches", path, prefix="epoch_progress.")
        loss_sum = progress.get("loss_sum")
        if not _is_finite(loss_sum):
            raise CheckpointError(
                f"{path}: epoch_progress.loss_sum in the checkpoint is {loss_sum!r}, not a "
                "finite number"
            )
    best = state.get("best")
    if best is not None and not _is_real(best):
        raise CheckpointError(f"{path}: best in the checkpoint is {best!r}, not a number")
    check_rng_state(state.get("rng"), path)


def _whole(state: Mapping[str, Any], key: str, path: Path, prefix: str = "") -> int:
    value = state.get(key)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, int):
        missing = "missing" if key not in state else f"{value!r}, not a whole number"
        raise CheckpointError(f"{path}: {prefix}{key} in the checkpoint is {missing}")
    if not 0 <= value < 2**53:
        raise CheckpointError(
            f"{path}: {prefix}{key} in the checkpoint is {value}; it cannot be negative or huge"
        )
    return value


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int no float holds
        return False


_RNG_SHAPES = {"python": (626,), "numpy_keys": (624,), "numpy_extra": (3,)}


def check_rng_state(rng: object, path: Path) -> None:
    """Refuse random-generator states `restore_rng_state` could not restore."""
    if not isinstance(rng, dict):
        raise CheckpointError(
            f"{path}: rng (the random generators' state) in the checkpoint is "
            f"{'missing' if rng is None else 'not a dictionary'}; the run cannot be resumed "
            "exactly from it"
        )
    for key, shape in (*_RNG_SHAPES.items(), ("torch", None)):
        tensor = rng.get(key)
        if not isinstance(tensor, torch.Tensor) or (shape and tuple(tensor.shape) != shape):
            raise CheckpointError(f"{path}: rng.{key} in the checkpoint is missing or damaged")
    try:
        restore_check = torch.Generator()
        restore_check.set_state(rng["torch"])
        random.Random().setstate(_python_state(rng))
        np.random.RandomState().set_state(_numpy_state(rng))
    except (RuntimeError, ValueError, TypeError, OverflowError):
        raise CheckpointError(f"{path}: rng in the checkpoint is damaged") from None


def _python_state(state: Mapping[str, torch.Tensor]) -> tuple[Any, ...]:
    python = [int(v) for v in state["python"].tolist()]
    gauss = state.get("python_gauss")
    has_gauss = isinstance(gauss, torch.Tensor) and gauss.numel() > 0
    gauss_value = float(gauss.reshape(-1)[0]) if has_gauss else None  # type: ignore[union-attr]
    return (python[0], tuple(python[1:]), gauss_value)


def _numpy_state(state: Mapping[str, torch.Tensor]) -> tuple[Any, ...]:
    position, has_gauss, cached = state["numpy_extra"].tolist()
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    return ("MT19937", keys, int(position), int(has_gauss), float(cached))


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
    """Put back the generators `capture_rng_state` saved (checked by `check_rng_state`)."""
    random.setstate(_python_state(state))
    np.random.set_state(_numpy_state(state))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
