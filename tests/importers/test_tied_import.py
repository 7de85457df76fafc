"""A module called twice imports as one set of weights: the later call's layers are tied to
the first call's, the project holds the weights once, and the outputs reproduce the source."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from studio.importers.command import check_outputs, compiled_model
from studio.importers.fx_import import import_module
from studio.plugins import default_registry


class Siamese(nn.Module):
    example_input_shape = ((2, 1, 12, 12), (2, 1, 12, 12))

    def __init__(self) -> None:
        super().__init__()
        self.tower = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.head = nn.Linear(4, 1)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.tower(left) * self.tower(right)))


def test_a_tower_called_twice_is_one_set_of_weights() -> None:
    imported = import_module(Siamese(), default_registry())
    assert check_outputs(imported) < 1e-6
    graph = imported.project.main_graph
    ties = {n.name: graph.node(n.shares).name for n in graph.nodes if n.shares}
    # Only the layer with weights is tied; the tower's ReLU, pooling and Flatten have none.
    assert ties == {"tower_4": "tower_0"}
    assert sorted(imported.state_dict) == [
        "head.bias",
        "head.weight",
        "tower_0.bias",
        "tower_0.weight",
    ]
    model = compiled_model(imported)
    assert sum(p.numel() for p in model.parameters()) == 4 * 9 + 4 + 4 + 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_onnx_layer_reading_the_same_initializers_again_is_tied(tmp_path) -> None:
    from studio.importers.onnx_import import import_onnx_file

    path = tmp_path / "siamese.onnx"
    model = Siamese().eval()
    inputs = tuple(torch.randn(shape) for shape in Siamese.example_input_shape)
    torch.onnx.export(model, inputs, str(path), dynamo=False)
    imported = import_onnx_file(path, default_registry())
    assert check_outputs(imported) < 1e-5
    graph = imported.project.main_graph
    convs = [n for n in graph.nodes if n.type_id == "studio.Conv2d"]
    assert len(convs) == 2
    assert convs[1].shares == convs[0].id
    conv_weights = [k for k in imported.state_dict if k.endswith("weight") and "head" not in k]
    assert len(conv_weights) == 1


class TinyGPT(nn.Module):
    """nanoGPT's shape in small: the token table is the output head's weight."""

    example_input_shape = (2, 8)

    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(64, 32)
        self.block = nn.Linear(32, 32)
        self.ln_f = nn.LayerNorm(32)
        self.lm_head = nn.Linear(32, 64, bias=False)
        self.wte.weight = self.lm_head.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx)
        x = x + torch.relu(self.block(x))
        return self.lm_head(self.ln_f(x))


def _gpt_import(front_end: str):
    torch.manual_seed(0)
    model = TinyGPT()
    if front_end == "fx":
        return import_module(model, default_registry())
    from studio.importers.export_import import import_module_export

    return import_module_export(model, default_registry())


@pytest.mark.parametrize("front_end", ["fx", "export"])
def test_tied_embeddings_import_as_one_weight_tensor(front_end: str) -> None:
    imported = _gpt_import(front_end)
    assert check_outputs(imported) < 1e-5
    graph = imported.project.main_graph
    ties = {n.name: graph.node(n.shares).name for n in graph.nodes if n.shares}
    # The embedding is called first, so it owns the table; the head's weight is tied to it.
    assert ties == {"lm_head": "wte"}
    assert graph.is_weight_tied(graph.node_by_name("lm_head").id)  # type: ignore[union-attr]
    state = imported.state_dict
    assert state["lm_head.weight"] is state["wte.weight"]
    assert "lm_head.bias" not in state
    model = compiled_model(imported)
    assert model.lm_head.weight is model.wte.weight
    # The table counted once: 64 × 32, the block's 32 × 32 + 32, the norm's 2 × 32.
    assert sum(p.numel() for p in model.parameters()) == 64 * 32 + 32 * 32 + 32 + 2 * 32


def test_generated_code_of_an_imported_gpt_ties_and_reproduces_it() -> None:
    from studio.compile.codegen import generate_code

    imported = _gpt_import("fx")
    model = compiled_model(imported)
    source = generate_code(imported.project.main_graph)
    assert "self.lm_head.weight = self.wte.weight" in source
    namespace: dict[str, object] = {}
    exec(compile(source, "generated.py", "exec"), namespace)
    written = namespace["build_model"]()  # type: ignore[operator]
    assert written.lm_head.weight is written.wte.weight
    written.load_state_dict(model.state_dict())
    written.eval()
    ids = torch.randint(0, 64, (3, 8))
    with torch.no_grad():
        assert torch.equal(written(ids), model(ids))


def test_a_training_step_keeps_the_table_and_the_head_one_tensor() -> None:
    imported = _gpt_import("fx")
    model = compiled_model(imported).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 5  # the table once
    before = model.wte.weight.detach().clone()
    ids = torch.randint(0, 64, (4, 8))
    loss = nn.functional.cross_entropy(model(ids).flatten(0, 1), ids.flatten())
    loss.backward()
    optimizer.step()
    assert model.lm_head.weight is model.wte.weight
    assert not torch.equal(model.wte.weight, before)


def test_an_imported_gpt_run_saves_loads_resumes_and_exports_tied(tmp_path) -> None:
    from studio.export.exporters import FORMATS
    from studio.export.project_export import export_project
    from studio.importers.command import write_import
    from studio.training.checkpoints import load_checkpoint
    from studio.training.session import build_mode
    from studio.training.trained import load_run_weights

    imported = _gpt_import("fx")
    difference = check_outputs(imported)
    run_path = write_import(imported, tmp_path / "gpt.strata", difference)
    run = load_run_weights(tmp_path / "gpt.strata")
    graph = run.project.main_graph
    assert graph.node(graph.node_by_name("lm_head").shares).name == "wte"  # type: ignore[union-attr,arg-type]
    assert torch.equal(run.weights["wte.weight"], imported.state_dict["wte.weight"])

    # What `studio train --resume` does: the mode, then the checkpoint's whole state.
    state = load_checkpoint(run_path / "last.pt", within=run_path)
    mode = build_mode(run.project, run.project.training, torch.device("cpu"), steps_per_epoch=1)
    mode.load_state_dict(state["mode"])
    model = mode.main_model
    assert model.lm_head.weight is model.wte.weight
    assert torch.equal(model.wte.weight, imported.state_dict["wte.weight"])

    ids = torch.randint(0, 64, (3, 8))
    report = export_project(
        run.project,
        "model",
        FORMATS,
        tmp_path / "export",
        state_dict=run.weights,
        inputs=(ids,),
        samples=(torch.randint(0, 64, (5, 8)),),
    )
    for result in report.results:
        assert result.ok, result.describe()
    assert [r.format for r in report.results] == list(FORMATS)
    # ONNX, run in onnxruntime, reproduces the compiled model.
    import onnxruntime

    onnx_path = report.result("onnx").path
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    (got,) = session.run(None, {name: ids.numpy()})
    reference = compiled_model(imported)
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(got), reference(ids), atol=1e-5)
    # safetensors stores the table once; loading re-ties it in the built model.
    from safetensors.torch import load_file

    saved = load_file(str(report.result("safetensors").path))
    assert torch.equal(saved["lm_head.weight"], saved["wte.weight"])


def test_other_tensors_held_by_two_layers_are_refused_in_words() -> None:
    class TwoHeads(nn.Module):
        example_input_shape = (2, 8)

        def __init__(self) -> None:
            super().__init__()
            self.first = nn.Linear(8, 4)
            self.second = nn.Linear(8, 4)
            self.second.weight = self.first.weight  # the biases differ: no module tie

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.first(x) + self.second(x)

    from studio.importers.mapping import UnsupportedModelError

    with pytest.raises(UnsupportedModelError) as refused:
        import_module(TwoHeads(), default_registry())
    assert "self.first.weight and self.second.weight are one tensor" in str(refused.value)
    assert "only an nn.Embedding's table and an nn.Linear module's weight" in str(refused.value)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_onnx_head_holding_the_table_transposed_is_weight_tied(tmp_path) -> None:
    """The exporter folds the head's transpose of the table into a second initializer of
    the same numbers: the importer ties it back rather than keeping two copies."""
    from studio.importers.onnx_import import import_onnx_file

    torch.manual_seed(0)
    model = TinyGPT().eval()
    path = tmp_path / "gpt.onnx"
    torch.onnx.export(model, (torch.randint(0, 64, (2, 8)),), str(path), dynamo=False)
    imported = import_onnx_file(path, default_registry())
    assert check_outputs(imported) < 1e-5
    graph = imported.project.main_graph
    ties = {n.type_id: graph.node(n.shares).type_id for n in graph.nodes if n.shares}
    assert ties == {"studio.Linear": "studio.Embedding"}
    compiled = compiled_model(imported)
    tied = [m for m in compiled.modules() if isinstance(m, nn.Linear) and m.out_features == 64]
    embedding = next(m for m in compiled.modules() if isinstance(m, nn.Embedding))
    assert len(tied) == 1 and tied[0].weight is embedding.weight
