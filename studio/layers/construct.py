"""Module construction that remembers its own call, so generated code can repeat it.

Builders create every module through `construct`; the code generator then writes
``nn.Conv2d(3, 16, kernel_size=3, padding=1)`` instead of guessing constructor arguments
from a module's attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)
CONSTRUCTOR_ATTR = "_strata_constructor"


@dataclass(frozen=True)
class Constructor:
    """The class and arguments a module was built with."""

    cls: type[nn.Module]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def construct(cls: type[M], *args: Any, **kwargs: Any) -> M:
    """Build `cls(*args, **kwargs)` and record the call on the module."""
    module = cls(*args, **kwargs)
    object.__setattr__(module, CONSTRUCTOR_ATTR, Constructor(cls, args, kwargs))
    return module


def constructor_of(module: nn.Module) -> Constructor | None:
    return getattr(module, CONSTRUCTOR_ATTR, None)
