"""Attribution engine: Captum methods behind one call that returns plain numpy arrays.

No Qt here, and Captum is imported only when a method runs (it pulls in matplotlib), so
`import studio.explain` stays cheap for the CLI and the window's start-up.
"""

from studio.explain.engine import Attribution, InputAttribution, explain
from studio.explain.errors import ExplainError
from studio.explain.input_kinds import INPUT_KINDS, InputKind, infer_input_kind
from studio.explain.methods import (
    METHODS,
    MethodRegistry,
    MethodSpec,
    default_methods,
    get_method,
    register_method,
)
from studio.explain.sanity import (
    ConvergenceCheck,
    RandomisationCheck,
    convergence_check,
    randomisation_check,
)

__all__ = [
    "INPUT_KINDS",
    "METHODS",
    "Attribution",
    "ConvergenceCheck",
    "ExplainError",
    "InputAttribution",
    "InputKind",
    "MethodRegistry",
    "MethodSpec",
    "RandomisationCheck",
    "convergence_check",
    "default_methods",
    "explain",
    "get_method",
    "infer_input_kind",
    "randomisation_check",
    "register_method",
]
