"""Paths read from files: run ids, bundled dataset names and export file names that come
from a project (or from `--resume`) cannot leave their folders; special files never hang."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.errors import ProjectError
from studio.core.project import DataSection, Project
from studio.core.registry import LayerRegistry
from studio.core.resources import examples_dir
from studio.data.errors import DataError

from .conftest import Figures, hard_timeout, time_bound

# Every test here reads a path or a name that a hostile file could hold.
pytestmark = hard_timeout(120)

ESCAPES = [
    "..",
    "../x",
    "../../etc",
    "/etc",
    "/tmp/x",
    "a/../../b",
    "a/b",
    "a\\..\\b",
    ".hidden",
    "",
    "~",
    "x" * 65,
]


def template(tmp_path: Path, **changes: object) -> Path:
    document = json.loads((examples_dir() / "mlp_classifier.strata").read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        document[section][key] = value
    path = tmp_path / "demo.strata"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize("run_id", ESCAPES)
def test_run_ids_cannot_leave_the_runs_folder(
    run_id: str, tmp_path: Path, figures: Figures
) -> None:
    from studio.training.errors import TrainingError
    from studio.training.runs import RunFolder, check_run_id

    project = tmp_path / "demo.strata"
    (tmp_path / "x").mkdir()
    with pytest.raises(TrainingError, match="not a run id"):
        check_run_id(run_id)
    with pytest.raises(TrainingError):
        RunFolder.open(project, run_id)
    if run_id:  # an empty id asks `create` for a fresh one
        with pytest.raises(TrainingError):
            RunFolder.create(project, run_id)
    assert not (tmp_path / "demo.runs").exists() or not any((tmp_path / "demo.runs").iterdir())
    figures.add("paths: escapes refused")


@pytest.mark.parametrize("run_id", ESCAPES)
def test_a_project_cannot_name_weights_outside_its_runs(
    run_id: str, tmp_path: Path, registry: LayerRegistry, figures: Figures
) -> None:
    path = template(tmp_path, training__initial_weights=run_id)
    with pytest.raises(ProjectError, match="initial_weights"), time_bound():
        Project.load(path, registry)
    figures.add("paths: escapes refused")


def test_a_run_folder_that_is_a_symlink_elsewhere_is_not_opened(tmp_path: Path) -> None:
    from studio.training.errors import TrainingError
    from studio.training.runs import RunFolder

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    runs = tmp_path / "demo.runs"
    runs.mkdir()
    (runs / "20260101-000000.000-abcdef").symlink_to(outside, target_is_directory=True)
    with pytest.raises(TrainingError, match="outside"):
        RunFolder.open(tmp_path / "demo.strata", "20260101-000000.000-abcdef")
    # A runs folder that is itself a link (to a bigger disk, say) is the user's choice.
    bigger_disk = tmp_path / "disk" / "demo.runs"
    (bigger_disk / "20260101-000000.000-abcdef").mkdir(parents=True)
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "demo.runs").symlink_to(bigger_disk, target_is_directory=True)
    run = RunFolder.open(linked / "demo.strata", "20260101-000000.000-abcdef")
    assert run.path.resolve() == (bigger_disk / "20260101-000000.000-abcdef").resolve()


def test_resume_from_the_command_line_cannot_leave_the_runs_folder(tmp_path: Path) -> None:
    project = tmp_path / "demo.strata"
    shutil.copy(examples_dir() / "mlp_classifier.strata", project)
    for run_id in ("../../etc", "/tmp"):
        result = subprocess.run(
            [sys.executable, "-m", "studio", "train", str(project), "--resume", run_id],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1 and "is not a run id" in result.stderr


@pytest.mark.parametrize("name", [*ESCAPES, "mnist/../../x", "iris\x00"])
def test_bundled_dataset_names_cannot_name_files(name: str, figures: Figures) -> None:
    from studio.data.sources import read_data

    try:
        section = DataSection(dataset=name)
    except ValueError:
        figures.add("paths: escapes refused")
        return
    if not section.names_data:
        return
    with pytest.raises(DataError, match="no dataset named"):
        read_data(section)
    figures.add("paths: escapes refused")


@pytest.mark.parametrize(
    "name", ["../../evil", "/etc/passwd", "..", "a/b\\c", "CON", "\x00", "💥", " ", ".bashrc"]
)
def test_export_file_names_from_a_project_stay_in_the_export_folder(
    name: str, figures: Figures
) -> None:
    from studio.export.project_export import file_stem

    stem = file_stem(name)
    assert stem and "/" not in stem and "\\" not in stem and ".." not in stem
    assert not stem.startswith(".")
    assert Path("out", stem).parent == Path("out")
    figures.add("paths: escapes refused")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_special_files_are_refused_not_waited_on(
    tmp_path: Path, registry: LayerRegistry, figures: Figures
) -> None:
    """A FIFO with no writer would block a plain `open` forever; /dev/zero never ends."""
    from studio.data.pipeline import load_data

    fifo = tmp_path / "pipe.strata"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(ProjectError), time_bound():
            Project.load(path, registry)
        for kind in ("table", "text", "series"):
            source = {"kind": kind, "path": str(path)}
            with pytest.raises(DataError), time_bound():
                load_data(DataSection.model_validate({"source": source}))
        figures.add("paths: special files refused")


def test_data_paths_outside_the_project_folder_are_the_users_choice(
    tmp_path: Path, registry: LayerRegistry
) -> None:
    """By design: the user's data may live anywhere (a shared data folder, `../data`); a
    relative path starts at the project's folder, reading it never writes there, and a file
    outside the folder is named in a warning, so that a project from someone else reads
    nothing unseen."""
    from studio.data.compatibility import check_project_data
    from studio.data.pipeline import load_project_data

    data = tmp_path / "data"
    data.mkdir()
    csv = data / "t.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    project_folder = tmp_path / "projects"
    project_folder.mkdir()
    for given in ("../data/t.csv", str(csv)):
        path = template(
            project_folder, data__source={"kind": "table", "path": given}, data__dataset=None
        )
        project = Project.load(path, registry)
        before = csv.read_bytes()
        assert load_project_data(project).name
        assert csv.read_bytes() == before
        # ...but never unseen: the project's problems name the file, as a warning.
        warnings = [
            p.message
            for _graph, p in check_project_data(project)
            if p.severity == "warning" and "outside the project's folder" in p.message
        ]
        assert warnings and str(csv.resolve()) in warnings[0]
    inside = project_folder / "t.csv"
    inside.write_bytes(csv.read_bytes())
    path = template(
        project_folder, data__source={"kind": "table", "path": "t.csv"}, data__dataset=None
    )
    problems = check_project_data(Project.load(path, registry))
    assert not [p for _graph, p in problems if "outside the project's folder" in p.message]


def test_run_listings_skip_a_run_folder_that_links_elsewhere(tmp_path: Path) -> None:
    from studio.training.run_index import list_runs
    from studio.training.trained import runs_with_weights

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "best.pt").write_bytes(b"not ours")
    runs = tmp_path / "demo.runs"
    runs.mkdir()
    (runs / "20260101-000000.000-abcdef").symlink_to(outside, target_is_directory=True)
    assert list_runs(tmp_path / "demo.strata") == []
    assert runs_with_weights(tmp_path / "demo.strata") == []
