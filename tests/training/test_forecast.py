"""The memory forecast: its arithmetic, and the forecast against a measured CPU training step.

The measurement replays torch's profiler allocation events (see `measure_peak_cpu`): it is
exact for the tensors the ops keep and misses scratch memory an op frees before returning, so
it is a slight lower bound. Measured here (Adam, batch 64, torch 2.13 CPU):

    template          forecast    measured   forecast / measured
    mlp_classifier      65.8 kB     63.8 kB   1.03
    cnn_classifier      3.23 MB     2.41 MB   1.34
    residual_cnn        50.8 MB     46.6 MB   1.09

The forecast errs high (it counts two of the largest activation as backward workspace, which
the CPU kernels do not always need), which is the safe side for "the largest batch that fits".
The tolerance below is 0.9–1.5× the measured peak.
"""

from __future__ import annotations

import pytest
import torch

from studio.compile.compiler import compile_graph
from studio.compile.summary import summarize
from studio.core.project import Project
from studio.core.resources import examples_dir
from studio.export.subject import placeholder_inputs
from studio.training.forecast import (
    FLOAT_BYTES,
    MIB,
    MemoryModel,
    budget_bytes,
    memory_model,
    optimizer_state_copies,
    project_memory_model,
    training_step_peak,
)

BATCH = 64


def load(name: str, registry) -> Project:
    return Project.load(examples_dir() / f"{name}.strata", registry)


def measured_peak(project: Project, batch: int) -> int:
    graph = project.main_graph
    torch.manual_seed(0)
    return training_step_peak(
        lambda: compile_graph(graph),
        lambda: placeholder_inputs(graph, batch),
        lambda out: (out[0] if isinstance(out, tuple) else out).float().pow(2).mean(),
        lambda params: torch.optim.Adam(params, lr=1e-3),
    )


@pytest.mark.parametrize("name", ["mlp_classifier", "cnn_classifier", "residual_cnn"])
def test_forecast_is_close_to_a_measured_cpu_step(name, registry):
    project = load(name, registry)
    project.training = project.training.model_copy(
        update={"optimizer": project.training.optimizer.model_copy(update={"name": "adam"})}
    )
    forecast = project_memory_model(project).at(BATCH).total
    measured = measured_peak(project, BATCH)
    assert 0.9 * measured <= forecast <= 1.5 * measured, (forecast, measured)


def test_components_are_the_parameter_arithmetic(registry):
    project = load("mlp_classifier", registry)
    graph = project.main_graph
    params = sum(p.numel() for p in compile_graph(graph).parameters())
    adam = memory_model(graph, summarize(graph, batch_size=4), optimizer="adam").at(8)
    assert adam.parameters == adam.gradients == params * FLOAT_BYTES
    assert adam.optimizer_state == 2 * params * FLOAT_BYTES
    sgd = memory_model(graph, summarize(graph), optimizer="sgd", momentum=0.9).at(8)
    assert sgd.optimizer_state == params * FLOAT_BYTES
    plain = memory_model(graph, summarize(graph), optimizer="sgd").at(8)
    assert plain.optimizer_state == 0
    # The summary's batch size is divided out: the same model at any summary batch.
    assert adam == memory_model(graph, summarize(graph, batch_size=1), optimizer="adam").at(8)


def test_frozen_layers_have_no_gradients_or_state(registry):
    project = load("mlp_classifier", registry)
    graph = project.main_graph
    summary = summarize(graph)
    first = next(r for r in summary.rows if r.params)
    whole = memory_model(graph, summary).at(1)
    frozen = memory_model(graph, summary, frozen=[first.name]).at(1)
    assert frozen.parameters == whole.parameters
    assert whole.gradients - frozen.gradients == first.params * FLOAT_BYTES


def test_linear_in_batch_size_and_mixed_precision_halves_activations(registry):
    graph = load("cnn_classifier", registry).main_graph
    model = memory_model(graph, summarize(graph))
    one, two, three = (model.at(b).total for b in (10, 20, 30))
    assert two - one == three - two == 10 * model.per_sample_bytes > 0
    assert model.at(0).total == model.fixed_bytes
    half = memory_model(graph, summarize(graph), mixed_precision=True)
    assert half.at(10).activations == pytest.approx(model.at(10).activations / 2, rel=0.01)
    assert half.at(10).inputs == model.at(10).inputs


def test_largest_batch_is_the_last_that_fits():
    model = MemoryModel(
        parameters=1000,
        trainable=1000,
        optimizer_copies=2,
        activations_per_sample=300,
        inputs_per_sample=50,
        workspace_per_sample=50,
    )
    assert model.fixed_bytes == 16_000
    budget = 16_000 + 400 * 37 + 399
    largest = model.largest_batch(budget)
    assert largest == 37
    assert model.at(largest).total <= budget < model.at(largest + 1).total
    assert model.largest_batch(model.fixed_bytes) == 0
    assert model.largest_batch(0) == 0


def test_budget_keeps_a_reserve():
    assert budget_bytes(80 * 1024 * MIB) == 80 * 1024 * MIB - 8 * 1024 * MIB
    assert budget_bytes(2 * 1024 * MIB) == 2 * 1024 * MIB - 512 * MIB
    assert budget_bytes(100 * MIB) == 0
    assert budget_bytes(1000, reserve=100) == 900


def test_optimizer_state_copies():
    assert optimizer_state_copies("adam") == optimizer_state_copies("adamw") == 2
    assert optimizer_state_copies("sgd") == 0
    assert optimizer_state_copies("sgd", momentum=0.9) == 1
    assert optimizer_state_copies("rmsprop") == 1
    assert optimizer_state_copies("rmsprop", momentum=0.9) == 2
