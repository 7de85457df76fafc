"""Importers: a PyTorch module (``file.py:ClassName``) or an ONNX model becomes a project.

`studio import SOURCE --out OUT.strata` maps the source operation by operation onto catalog
layers, carries the weights over into a run beside the new project, and checks that the
compiled project computes what the source did. Constructs the catalog cannot express are
listed, with where they come from, and nothing is written. torch and onnx load only when an
import runs (`studio.importers.command` imports them lazily).
"""
