"""The one interface every export format implements: check → write → verify."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from studio.export.subject import ExportOptions, ExportSubject
from studio.export.verification import Verification


@dataclass
class Plan:
    """What `check` found, and what `write` needs from it.

    Attributes:
        blockers: what this format cannot carry; when any, nothing is written.
        notes: what the user should know although the export goes ahead (a fallback taken).
        artifact: the format's in-memory result (an exported program, a scripted module...),
            built while checking so that writing does not redo the work.
    """

    subject: ExportSubject
    options: ExportOptions
    blockers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    artifact: object = None


class Exporter(ABC):
    """One export format.

    Attributes:
        format: the id used on the command line (``onnx``, ``torchscript``...).
        title: a human name for dialogs and the model card.
        suffix: appended to the subject's name to make the output path; a format that writes
            a folder has no dot in it.
        carries_quantized: whether dynamically quantised layers survive this format.
    """

    format: str
    title: str
    suffix: str
    carries_quantized: bool = False

    def output_path(self, folder: Path, subject: ExportSubject) -> Path:
        """Where this format's export of `subject` goes inside `folder`."""
        return folder / f"{subject.name}{self.suffix}"

    def check(self, subject: ExportSubject, options: ExportOptions) -> Plan:
        """Find what this format cannot carry, before anything is written."""
        plan = Plan(subject, options)
        if subject.quantized and not self.carries_quantized:
            plan.blockers.append(
                f"{self.title} cannot carry dynamically quantised layers; "
                "export it without quantisation, or choose TorchScript"
            )
            return plan
        self.prepare(plan)
        return plan

    def prepare(self, plan: Plan) -> None:  # noqa: B027 - optional hook
        """Build the in-memory artifact, adding blockers or notes to `plan`."""

    @abstractmethod
    def write(self, plan: Plan, path: Path) -> None:
        """Write the export atomically to `path`; only called when `plan` has no blockers."""

    @abstractmethod
    def verify(self, path: Path, subject: ExportSubject, options: ExportOptions) -> Verification:
        """Load `path` with the format's own runtime and compare it on `subject.samples`."""

    @abstractmethod
    def load_snippet(self, filename: str, subject: ExportSubject) -> str:
        """Python code that loads the exported file, for the model card."""
