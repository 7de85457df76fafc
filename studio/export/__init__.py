"""Verified exports of a compiled model: weights, TorchScript, torch.export, ONNX, Python code.

Nothing here imports Qt, and the package itself imports nothing heavy: import
`studio.export.project_export` (which loads torch) only when exporting. The flow for each
format is check → write → verify: what a format cannot carry is found before any file is
written, every file is written atomically, and every written file is loaded back with its own
runtime and run on real samples.

Modules: `project_export` (the entry point, `export_project`), `exporters` (one module per
format behind the `Exporter` interface), `subject` (what is exported), `verification`,
`quantization`, `model_card`, `atomic`, `errors`.
"""
