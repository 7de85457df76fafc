"""The training settings a project file holds: optimizer, schedule, loss, stopping, device.

Plain, validated values (no torch) so that a project file is checked the moment it is opened;
`studio.training` turns them into torch objects. Every field has a default, so files written
before a field existed keep loading.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NodeName = Annotated[str, Field(min_length=1, max_length=64)]
RunId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Settings(BaseModel):
    """A group of settings that saves only what was chosen.

    Unknown keys (settings of a later version) are kept, and fields left at their defaults are
    not written, so a file says exactly what the user chose and round-trips unchanged.
    Strict: `true` is not the number 1, nor `1` or `"yes"` a switch turned on.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True, strict=True)

    @model_serializer(mode="wrap")
    def _only_chosen(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        chosen = self.model_fields_set | set(self.model_extra or {})
        return {key: value for key, value in data.items() if key in chosen}


class OptimizerSettings(_Settings):
    """Which optimizer updates the weights; momentum and nesterov apply to SGD only."""

    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    weight_decay: NonNegativeFloat = 0.0
    momentum: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.9
    nesterov: bool = False


class SchedulerSettings(_Settings):
    """How the learning rate changes over the run.

    `step_size`/`gamma` drive "step" (and `gamma` the factor of "plateau"); "cosine" and
    "onecycle" span the whole run; "plateau" watches the early-stopping metric.
    """

    name: Literal["none", "step", "cosine", "onecycle", "plateau"] = "none"
    step_size: Annotated[int, Field(ge=1, le=100_000)] = 10
    gamma: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.1
    patience: Annotated[int, Field(ge=0, le=100_000)] = 5


class EarlyStoppingSettings(_Settings):
    """Stop when `metric` has not improved for `patience` epochs (0: never stop early).

    `metric` also chooses which checkpoint is `best.pt`; "auto" means validation loss.
    """

    metric: Annotated[str, Field(min_length=1, max_length=64)] = "auto"
    patience: Annotated[int, Field(ge=0, le=100_000)] = 0


LossName = Literal["auto", "cross_entropy", "bce", "mse", "l1", "huber"]
MetricName = Literal["accuracy", "f1", "precision", "recall", "mae", "r2"]
DeviceName = Literal["auto", "cpu", "cuda", "mps"]
# "mixed": bf16 where the GPU supports it, else fp16 with a gradient scaler.
PrecisionName = Literal["fp32", "mixed", "bf16", "fp16"]
