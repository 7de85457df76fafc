"""The project file's data settings: typed, checked, and old files still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from studio.core.data_settings import SplitSettings, TableSource
from studio.core.project import DataSection, Project, ProjectError


def test_an_old_data_section_loads_with_defaults() -> None:
    section = DataSection.model_validate({"dataset": "iris"})
    assert section.source is None and section.splits.seed == 0
    assert section.preprocessing.normalize == "auto" and not section.augmentation.enabled
    assert section.names_data and not DataSection().names_data


def test_sources_are_told_apart_by_kind() -> None:
    section = DataSection.model_validate(
        {"source": {"kind": "table", "path": "a.csv", "target": "y", "missing": "mean"}}
    )
    assert isinstance(section.source, TableSource) and section.source.missing == "mean"
    with pytest.raises(ValidationError):
        DataSection.model_validate({"source": {"kind": "spreadsheet", "path": "a.xlsx"}})


def test_bad_values_are_refused_on_assignment_and_leave_the_settings_unchanged() -> None:
    section = DataSection(dataset="iris")
    with pytest.raises(ValueError, match="at least 10% for training"):
        section.splits.validation = 0.95
    section.splits.validation = 0.5
    with pytest.raises(ValueError, match="at least 10% for training"):
        section.splits.test = 0.45
    assert section.splits == SplitSettings(validation=0.5, test=0.15)
    with pytest.raises(ValueError):
        section.augmentation.rotation = 400
    with pytest.raises(ValueError, match="not a text encoding"):
        TableSource(path="a.csv", fallback_encoding="klingon")
    with pytest.raises(ValueError, match="single character"):
        TableSource(path="a.csv", delimiter=";;")
    with pytest.raises(ValueError, match="give both or neither"):
        DataSection.model_validate(
            {"source": {"kind": "idx", "images": "i", "labels": "l", "test_images": "t"}}
        )


def test_a_typo_in_a_file_names_its_path(tmp_path: Path, registry) -> None:
    project = Project("p", registry, data=DataSection(dataset="iris"))
    document = project.to_dict()
    document["data"]["splits"]["sed"] = 3
    path = tmp_path / "p.strata"
    path.write_text(json.dumps(document))
    with pytest.raises(ProjectError, match=r"data\.splits\.sed: is not a known field"):
        Project.load(path, registry)


def test_settings_survive_a_save_and_load(tmp_path: Path, registry) -> None:
    data = DataSection.model_validate(
        {
            "source": {"kind": "series", "path": "s.csv", "window": 12, "horizon": 3},
            "splits": {"seed": 9, "validation": 0.1},
            "augmentation": {"flip_horizontal": True},
            "loader": {"workers": 2},
        }
    )
    project = Project("p", registry, data=data)
    loaded = Project.load(project.save(tmp_path / "p.strata"), registry)
    assert loaded.data == data
