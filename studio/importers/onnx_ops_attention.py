"""ONNX op rules for the attention family, merged by `studio.importers.onnx_import.op_rules`.

None of the family has an ONNX operator of its own that torch's exporters write: attention,
CosineSimilarity and PairwiseDistance arrive spelled out in many operators and are found by
their structure in `studio.importers.onnx_patterns`; decoder blocks are folded back from their
parts by `studio.importers.decoder_blocks`; Unflatten is written as a Reshape, which imports
as one; GaussianSample in evaluation is its mean, no operator at all; and the legacy exporter
has no form of Bilinear.
"""

from __future__ import annotations

from typing import Any

RULES: dict[str, Any] = {}
