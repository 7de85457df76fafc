"""Exporting a trained run: the model card carries the metrics of the exported checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from studio.export.run_export import export_trained_run
from studio.training.run_index import recorded_metrics
from studio.training.runs import read_metrics
from studio.training.trained import TrainedRun


def test_the_model_card_holds_the_metrics_of_the_exported_checkpoint(
    trained_mlp: TrainedRun, tmp_path: Path
):
    records = read_metrics(trained_mlp.path / "metrics.jsonl")
    record = next(r for r in records if r["epoch"] == trained_mlp.epoch)
    report = export_trained_run(trained_mlp, ["state_dict"], tmp_path)
    assert report.model_card is not None
    card = report.model_card.read_text(encoding="utf-8")
    metrics = card.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    assert "Not evaluated yet" not in metrics
    assert f"run {trained_mlp.run_id} at epoch {trained_mlp.epoch}" in metrics
    rows = [line for line in metrics.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == [
        f"| {key} | {record[key]:.6g} |"
        for key in ("train_loss", "val_loss", "val_accuracy", "val_f1")
    ]
    assert record["val_accuracy"] > 0.8  # the real values of a trained model


def test_recorded_metrics_are_the_checkpoint_epochs_last_record(tmp_path: Path):
    lines = [
        {"epoch": 1, "step": 5, "val_loss": 0.9, "lr": 0.01},
        {"epoch": 2, "step": 10, "val_loss": 0.4, "val_accuracy": 0.8, "epoch_time": 0.2},
        {"epoch": 3, "step": 15, "val_loss": 0.7},
        # Resumed after epoch 1: epoch 2 was done again, and its last record is the run's.
        {"epoch": 2, "step": 10, "val_loss": 0.3, "val_accuracy": 0.9, "note": "x", "ok": True},
    ]
    text = "".join(json.dumps(r) + "\n" for r in lines) + '{"epoch": 2, "val_lo'  # torn
    (tmp_path / "metrics.jsonl").write_text(text, encoding="utf-8")
    assert recorded_metrics(tmp_path, 2) == {"val_loss": 0.3, "val_accuracy": 0.9}
    assert recorded_metrics(tmp_path, 9) == {}
    assert recorded_metrics(tmp_path / "missing", 2) == {}
