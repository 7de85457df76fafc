"""The Training tab's memory forecast against the measured peak of real training steps.

For each template and batch size: the forecast (`studio.training.forecast`, from the summary:
weights, gradients, optimizer state, the activations autograd keeps, the batch) and the peak
memory of building the model and taking two Adam steps. On CUDA the peak is the caching
allocator's `max_memory_allocated`; on the CPU, which has no peak counter, it is replayed
from the profiler's allocation events (a lower bound by at most one op's scratch space).
Target (issue 9): on a GPU, within 15 % of the measured peak; on the CPU the figures are for
information (the forecast errs high there, by design: it must not promise a batch that fails).

    python benchmarks/memory_forecast.py [--device cuda] [--batch 32 128]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from studio.compile.compiler import compile_graph
from studio.core.project import Project
from studio.export.subject import placeholder_inputs
from studio.plugins import default_registry
from studio.training.forecast import project_memory_model, training_step_peak

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
TEMPLATES = ("mlp_classifier", "cnn_classifier", "residual_cnn", "shapes_cnn")
GPU_TOLERANCE = 0.15


def measured_peak(project: Project, batch: int, device: torch.device) -> int:
    """The peak of building the model on `device` and taking two Adam steps."""
    graph = project.main_graph
    return training_step_peak(
        lambda: compile_graph(graph).to(device),
        lambda: tuple(x.to(device) for x in placeholder_inputs(graph, batch)),
        lambda out: (out[0] if isinstance(out, tuple) else out).float().pow(2).mean(),
        lambda params: torch.optim.Adam(params, lr=1e-3),
        device=device,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    args = parser.parse_args()
    device = torch.device(args.device)
    registry = default_registry()
    on_gpu = device.type == "cuda"
    where = torch.cuda.get_device_name(device) if on_gpu else "CPU"
    print(f"memory forecast / measured peak of two Adam steps, on {where}")
    for name in TEMPLATES:
        project = Project.load(EXAMPLES / f"{name}.strata", registry)
        optimizer = project.training.optimizer.model_copy(update={"name": "adam"})
        project.training = project.training.model_copy(
            update={"optimizer": optimizer, "precision": "fp32"}
        )
        model = project_memory_model(project, device.type)
        for batch in args.batch:
            torch.manual_seed(0)
            forecast = model.at(batch).total
            measured = measured_peak(project, batch, device)
            ratio = forecast / measured if measured else float("nan")
            label = f"{name}, batch {batch}"
            if on_gpu:
                error = abs(ratio - 1)
                print(
                    f"  {label:32s} forecast {forecast / 2**20:8.1f} MiB, measured "
                    f"{measured / 2**20:8.1f} MiB, error {error:.3f} "
                    f"(target ≤ {GPU_TOLERANCE})"
                )
            else:
                print(
                    f"  {label:32s} forecast {forecast / 2**20:8.1f} MiB, measured "
                    f"{measured / 2**20:8.1f} MiB, ratio {ratio:.2f} (information)"
                )


if __name__ == "__main__":
    main()
