"""Files and robustness: the template gallery, recent files, autosave and recovery after a
crash, exceptions in slots, themes, icons and the shortcut list."""

from __future__ import annotations

import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QKeySequence, QPalette
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.core.autosave import (
    AutosaveSession,
    key_for_path,
    list_autosaves,
    recovery_dir,
    write_autosave,
)
from studio.core.commands import MoveNodesCommand, SetParamCommand
from studio.core.project import Project
from studio.core.registry import LayerRegistry
from studio.core.resources import list_templates
from studio.ui import theme
from studio.ui.app import create_application, run_app
from studio.ui.errors import ExceptionReporter
from studio.ui.gallery import (
    THUMB_ROLE,
    THUMB_SIZE,
    SchematicColours,
    TemplateGallery,
    load_thumbnail,
)
from studio.ui.main_window import MainWindow
from studio.ui.recovery import RecoveryDialog
from studio.ui.settings import MAX_RECENT, THEME_KEY, RecentFiles, app_settings

TEMPLATES = {t.name: t.path for t in list_templates()}
CATEGORY_ICONS = [
    "input-output",
    "dense",
    "convolution",
    "pooling",
    "normalization",
    "regularization",
    "recurrent",
    "attention",
    "activation",
    "merge",
    "reshape",
    "padding",
    "sampling",
    "arithmetic",
    "tensor",
]
TOOLBAR_ICONS = ["new", "open", "save", "undo", "redo", "fit", "layout"]


def open_and_wait(qtbot, window: MainWindow, path: Path) -> Project:
    with qtbot.waitSignal(window.project_opened, timeout=30_000) as blocker:
        window.open_project(path)
    project = blocker.args[0]
    assert isinstance(project, Project)
    return project


def copy_template(name: str, folder: Path) -> Path:
    target = folder / f"{name}.strata"
    shutil.copyfile(TEMPLATES[name], target)
    return target


def pixel_spread(image: QImage, samples: int = 4000) -> float:
    """Standard deviation of sampled grey levels: 0 for a blank picture."""
    width, height = image.width(), image.height()
    step = max(1, (width * height) // samples)
    values = []
    for i in range(0, width * height, step):
        colour = image.pixelColor(i % width, i // width)
        values.append(0.299 * colour.red() + 0.587 * colour.green() + 0.114 * colour.blue())
    return statistics.pstdev(values)


def edit(window: MainWindow) -> dict:
    """A param edit and a move on the MLP template; returns the expected document."""
    assert window.project is not None
    graph = window.project.main_graph
    hidden = graph.node_by_name("hidden1")
    assert hidden is not None
    assert window.push(SetParamCommand(graph, hidden.id, "out_features", 8))
    assert window.push(MoveNodesCommand(graph, {hidden.id: (12.5, -40.0)}))
    assert window.modified
    return window.project.to_dict()


def crash(window: MainWindow) -> None:
    """Destroy a window the way a crash would: no close event, no clean-up of autosaves.

    A crash runs no code at all; deleting the window runs Qt's destructors, and the undo
    stack's would announce a change to a window half gone, so its signals are blocked.
    """
    window.tasks.shutdown()
    window.undo_stack.blockSignals(True)
    shiboken6.delete(window)
    QApplication.processEvents()


# ----------------------------------------------------------------- gallery
def test_new_shows_every_template_with_its_picture_and_opens_an_untitled_copy(
    qtbot, main_window: MainWindow
) -> None:
    assert main_window.new_action.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    main_window.new_action.trigger()
    gallery = main_window.gallery
    assert isinstance(gallery, TemplateGallery) and gallery.isVisible()
    assert gallery.model.rowCount() == len(TEMPLATES)
    titles = [gallery.model.item(r).text() for r in range(gallery.model.rowCount())]
    assert titles == [t.title for t in list_templates()]
    qtbot.waitUntil(lambda: gallery.pending == 0, timeout=20_000)
    for row in range(gallery.model.rowCount()):
        pixmap = gallery.model.item(row).data(THUMB_ROLE)
        assert pixmap is not None and not pixmap.isNull()
        assert pixel_spread(pixmap.toImage()) > 3, f"the picture of row {row} is blank"
    assert gallery.select("cnn_classifier")
    with qtbot.waitSignal(main_window.project_opened, timeout=30_000) as opened:
        gallery.create_button.click()
    project = opened.args[0]
    assert project.path is None, "a template opens as an untitled copy"
    original = Project.load(TEMPLATES["cnn_classifier"], main_window.registry)
    assert project.to_dict() == original.to_dict()
    qtbot.waitUntil(lambda: main_window.gallery is None)
    assert not main_window.modified


def test_the_gallery_draws_in_a_worker_and_reuses_its_pictures(
    qtbot, main_window: MainWindow
) -> None:
    first = main_window.show_template_gallery()
    qtbot.waitUntil(lambda: first.pending == 0, timeout=20_000)
    first.reject()
    qtbot.waitUntil(lambda: main_window.gallery is None)
    second = main_window.show_template_gallery()
    # From the cache: every picture is there before the event loop runs again.
    assert all(
        second.model.item(r).data(THUMB_ROLE) is not None for r in range(second.model.rowCount())
    )
    second.reject()


def test_a_schematic_shows_blocks_in_category_colours(registry: LayerRegistry) -> None:
    colours = SchematicColours.current(registry)
    image = load_thumbnail(TEMPLATES["residual_cnn"], registry, colours, THUMB_SIZE, 2.0)
    assert image.width() == THUMB_SIZE.width() * 2 and image.devicePixelRatio() == 2.0
    conv = QColor(colours.categories["Convolution"])
    found = {
        image.pixelColor(x, y).name()
        for x in range(0, image.width(), 2)
        for y in range(0, image.height(), 2)
    }
    assert conv.name() in found
    broken = load_thumbnail(Path("/nonexistent.strata"), registry, colours)
    assert not broken.isNull()  # an unreadable template still gets a (blank) picture


# ----------------------------------------------------------------- recent files
def test_recent_files_remember_opened_and_saved_projects(
    qtbot, main_window: MainWindow, tmp_path: Path, settings_dir: Path
) -> None:
    mlp = copy_template("mlp_classifier", tmp_path)
    open_and_wait(qtbot, main_window, mlp)
    assert main_window.recent_files.paths() == [mlp]
    copy = tmp_path / "copy.strata"
    assert main_window.save_project_as(copy)
    assert main_window.recent_files.paths() == [copy, mlp]
    assert (settings_dir / "settings.ini").is_file(), "settings live in STRATA_SETTINGS_DIR"
    main_window._fill_recent_menu()
    labels = [a.text() for a in main_window.recent_menu.actions() if a.text()]
    assert "copy.strata" in labels[0] and "mlp_classifier.strata" in labels[1]
    assert labels[-1].replace("&", "") == "Clear Recent Projects"
    with qtbot.waitSignal(main_window.project_opened, timeout=30_000):
        main_window.recent_menu.actions()[1].trigger()
    assert main_window.project is not None and main_window.project.path == mlp


def test_a_missing_recent_file_is_removed_with_a_message(
    main_window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []

    def information(parent: object, title: str, text: str, *args: object) -> object:
        shown.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "information", staticmethod(information))
    gone = tmp_path / "gone.strata"
    kept = copy_template("mlp_classifier", tmp_path)
    main_window.recent_files.add(kept)
    main_window.recent_files.add(gone)
    assert main_window.open_recent(gone) is None
    assert len(shown) == 1 and "gone.strata" in shown[0]
    assert main_window.recent_files.paths() == [kept]
    assert main_window.project is None


def test_recent_files_keep_the_last_ten(tmp_path: Path) -> None:
    recent = RecentFiles(app_settings())
    for i in range(MAX_RECENT + 3):
        recent.add(tmp_path / f"p{i}.strata")
    recent.add(tmp_path / "p5.strata")  # again: moves to the top, no duplicate
    paths = recent.paths()
    assert len(paths) == MAX_RECENT
    assert paths[0] == tmp_path / "p5.strata" and paths.count(tmp_path / "p5.strata") == 1
    assert tmp_path / "p0.strata" not in paths
    recent.clear()
    assert RecentFiles(app_settings()).paths() == []


# ----------------------------------------------------------------- autosave
def test_autosave_writes_only_unsaved_changes_and_a_save_removes_it(
    qtbot, main_window: MainWindow, tmp_path: Path, registry: LayerRegistry
) -> None:
    folder = recovery_dir()
    path = copy_template("mlp_classifier", tmp_path)
    open_and_wait(qtbot, main_window, path)
    assert main_window.autosave.autosave_now() is None, "nothing to write without changes"
    assert list_autosaves(folder) == []
    expected = edit(main_window)
    with qtbot.waitSignal(main_window.autosave.written, timeout=10_000):
        main_window.autosave.autosave_now()
    [entry] = list_autosaves(folder)
    assert entry.key == key_for_path(path) and entry.original_path == path
    assert Project.load(entry.content_path, registry).to_dict() == expected
    assert Project.load(path, registry).to_dict() != expected, "the project file is untouched"
    assert main_window.autosave.autosave_now() is None, "unchanged since the last autosave"
    assert main_window.save_project()
    assert list_autosaves(folder) == [], "saving deletes the side file"


def test_undoing_back_to_the_saved_state_removes_the_side_file(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    open_and_wait(qtbot, main_window, copy_template("mlp_classifier", tmp_path))
    edit(main_window)
    with qtbot.waitSignal(main_window.autosave.written, timeout=10_000):
        main_window.autosave.autosave_now()
    assert len(list_autosaves(recovery_dir())) == 1
    main_window.undo_stack.undo()
    main_window.undo_stack.undo()
    assert not main_window.modified
    main_window.autosave.autosave_now()
    assert list_autosaves(recovery_dir()) == []


def test_the_timer_autosaves_and_a_clean_close_leaves_nothing(
    qtbot, registry: LayerRegistry, tmp_path: Path
) -> None:
    window = MainWindow(registry=registry)
    window.show()
    try:
        window.autosave.set_interval(40)
        open_and_wait(qtbot, window, copy_template("mlp_classifier", tmp_path))
        edit(window)
        with qtbot.waitSignal(window.autosave.written, timeout=10_000):
            pass  # the timer fires on its own
        assert len(list_autosaves(recovery_dir())) == 1
    finally:
        window.set_modified(False)  # "discard" at the question a close would ask
        window.close()
    assert window.tasks.active_threads == 0
    assert list(recovery_dir().iterdir()) == [], "no side file and no session lock remain"
    window.deleteLater()


def test_autosave_then_recover_after_a_simulated_crash(
    qtbot, main_window: MainWindow, registry: LayerRegistry, tmp_path: Path
) -> None:
    path = copy_template("mlp_classifier", tmp_path)
    first = MainWindow(registry=registry)
    first.show()
    first.autosave.set_interval(30)
    open_and_wait(qtbot, first, path)
    expected = edit(first)
    with qtbot.waitSignal(first.autosave.written, timeout=10_000):
        pass  # the autosave timer fires
    assert main_window.offer_recovery() is None, "an open window's autosave is not offered"
    crash(first)

    dialog = main_window.offer_recovery()
    assert isinstance(dialog, RecoveryDialog) and dialog.isVisible()
    assert dialog.windowModality() == Qt.WindowModality.WindowModal  # and it did not block
    [entry] = dialog.entries
    assert entry.original_path == path and entry.name == expected["name"]
    row = dialog.tree.topLevelItem(0)
    assert row.text(0) == entry.name and "today" in row.text(1) and str(path) in row.text(2)
    with qtbot.waitSignal(main_window.project_opened, timeout=30_000):
        dialog.recover_button.click()
    project = main_window.project
    assert project is not None
    assert project.to_dict() == expected
    assert project.path == path, "recovered content belongs to the original file"
    assert main_window.modified and main_window.windowTitle().startswith("*")
    qtbot.waitUntil(lambda: main_window.recovery_dialog is None)
    # The side file now belongs to this window: another window would not offer it.
    qtbot.waitUntil(lambda: main_window.autosave.task is None, timeout=10_000)
    other = AutosaveSession(recovery_dir())
    assert other.recoverable() == []
    other.close()
    assert main_window.save_project()
    assert Project.load(path, registry).to_dict() == expected
    assert list_autosaves(recovery_dir()) == []


def test_an_untitled_project_is_recovered_untitled(
    qtbot, main_window: MainWindow, registry: LayerRegistry
) -> None:
    first = MainWindow(registry=registry)
    first.show()
    with qtbot.waitSignal(first.project_opened, timeout=30_000):
        first.open_project(TEMPLATES["mlp_classifier"], as_template=True)
    expected = edit(first)
    with qtbot.waitSignal(first.autosave.written, timeout=10_000):
        first.autosave.autosave_now()
    crash(first)
    dialog = main_window.offer_recovery()
    assert dialog is not None
    assert dialog.entries[0].original_path is None
    assert "never saved" in dialog.tree.topLevelItem(0).text(2)
    with qtbot.waitSignal(main_window.project_opened, timeout=30_000):
        dialog.recover_selected()
    assert main_window.project is not None and main_window.project.path is None
    assert main_window.project.to_dict() == expected
    assert main_window.modified


def test_discarding_in_the_recovery_dialog_deletes_the_autosave(
    main_window: MainWindow, tmp_path: Path
) -> None:
    folder = recovery_dir()
    for name in ("a", "b"):
        write_autosave(folder, key_for_path(tmp_path / name), {}, name=name,
                       original_path=tmp_path / name, session="gone")  # fmt: skip
    dialog = main_window.offer_recovery()
    assert dialog is not None and len(dialog.entries) == 2
    dialog.discard_selected()
    assert len(list_autosaves(folder)) == 1 and dialog.isVisible()
    dialog.discard_selected()
    assert list_autosaves(folder) == []
    assert not dialog.isVisible(), "the dialog closes when nothing is left"
    assert main_window.project is None


def test_run_app_offers_recovery_on_start(
    qapp, registry: LayerRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_template("mlp_classifier", tmp_path)
    project = Project.load(path, registry)
    project.name = "Crashed MLP"
    write_autosave(recovery_dir(), key_for_path(path), project.to_dict(), name=project.name,
                   original_path=path, session="gone")  # fmt: skip
    seen: dict[str, object] = {}

    def drive() -> None:
        shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        window = next((w for w in shown if w.isVisible()), None)
        if window is None or (window.recovery_dialog is None and "clicked" not in seen):
            QTimer.singleShot(50, drive)
            return
        if "clicked" not in seen:
            seen["clicked"] = True
            window.recovery_dialog.recover_button.click()
        if window.project is None:
            QTimer.singleShot(50, drive)
            return
        seen["name"] = window.project.name
        seen["modified"] = window.modified
        window.set_modified(False)
        window.close()

    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(qapp.quit)
    guard.start(60_000)
    QTimer.singleShot(50, drive)
    try:
        assert run_app(None) == 0
    finally:
        guard.stop()
    assert seen == {"clicked": True, "name": "Crashed MLP", "modified": True}


# ----------------------------------------------------------------- exceptions
@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_is_logged_and_shown_and_the_window_lives_on(
    qtbot, main_window: MainWindow, tmp_path: Path
) -> None:
    log = tmp_path / "strata.log"
    reporter = ExceptionReporter(log, main_window)
    reporter.install()
    try:

        def boom() -> None:
            raise RuntimeError("a slot failed on purpose")

        QTimer.singleShot(0, boom)
        qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())
        dialog = reporter.dialog
        assert not dialog.isModal()
        assert "a slot failed on purpose" in dialog.summary.text()
        assert "Traceback" in dialog.details.toPlainText()
        dialog.copy_button.click()
        assert "a slot failed on purpose" in QApplication.clipboard().text()
        assert "RuntimeError: a slot failed on purpose" in log.read_text(encoding="utf-8")
        # A worker thread's exception lands in the same dialog, counted.
        thread = threading.Thread(target=boom, name="worker")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: dialog.count == 2)
        assert "2 errors" in dialog.summary.text() and "thread worker" in dialog.summary.text()
        # The window still works.
        with qtbot.waitSignal(main_window.project_opened, timeout=30_000):
            main_window.open_project(TEMPLATES["mlp_classifier"])
        dialog.close()
        qtbot.waitUntil(lambda: reporter.dialog is None)
    finally:
        reporter.uninstall()
    assert sys.excepthook is not reporter.handle_exception
    assert threading.excepthook is not reporter.handle_thread_exception


# ----------------------------------------------------------------- themes, icons, help
def test_themes_switch_everything_and_are_remembered(qtbot, main_window: MainWindow, qapp) -> None:
    dark_background = theme.BACKGROUND.name()
    switched: list[str] = []
    theme.notifier().theme_changed.connect(switched.append)
    try:
        main_window.theme_actions["light"].trigger()
        assert switched == ["light"] and theme.current().name == "light"
        assert theme.BACKGROUND.name() == theme.LIGHT.colours["background"] != dark_background
        assert qapp.palette().color(QPalette.ColorRole.Window) == theme.LIGHT.colour("window")
        assert theme.LIGHT.colours["toolbar"] in qapp.styleSheet()
        assert app_settings().value(THEME_KEY) == "light"
        icon = theme.icon("save").pixmap(QSize(24, 24), 1.0).toImage()
        inked = {icon.pixelColor(x, y).name() for x in range(24) for y in range(24)
                 if icon.pixelColor(x, y).alpha() == 255}  # fmt: skip
        assert theme.LIGHT.colours["icon"] in inked, "icons follow the theme"
        assert main_window.theme_actions["light"].isChecked()
        theme.set_theme("dark")
        create_application()  # a new start reads the remembered theme
        assert theme.current().name == "light"
    finally:
        theme.notifier().theme_changed.disconnect(switched.append)
        main_window.set_theme("dark")
    assert theme.BACKGROUND.name() == dark_background
    assert main_window.theme_actions["dark"].isChecked()


def test_icons_exist_parse_and_render_crisply_at_any_pixel_ratio(
    main_window: MainWindow, registry: LayerRegistry
) -> None:
    for name in ["strata", *CATEGORY_ICONS, *TOOLBAR_ICONS]:
        path = theme.icons_dir() / f"{name}.svg"
        assert path.is_file(), path
        assert QSvgRenderer(str(path)).isValid(), path
    for category in registry.categories():
        assert theme.category_icon_name(category) in CATEGORY_ICONS
        assert not theme.category_icon(category).isNull()
    pixmap = theme.icon("open").pixmap(QSize(20, 20), 2.0)
    assert pixmap.devicePixelRatio() == 2.0 and pixmap.width() == 40
    assert not main_window.windowIcon().isNull()
    window = main_window
    for action in (
        window.new_action,
        window.open_action,
        window.save_action,
        window.undo_action,
        window.redo_action,
        window.fit_action,
    ):
        assert not action.icon().isNull(), action.text()
        assert action in window.toolbar.actions(), action.text()


def test_the_shortcut_list_covers_the_common_commands(main_window: MainWindow) -> None:
    assert (
        main_window.shortcuts_action
        in main_window._menu_holding(main_window.about_action).actions()
    )
    dialog = main_window.show_shortcuts()
    try:
        rows = dict(dialog.rows())
        native = QKeySequence.SequenceFormat.NativeText
        for command, keys in [
            ("New", QKeySequence.StandardKey.New),
            ("Open", QKeySequence.StandardKey.Open),
            ("Save", QKeySequence.StandardKey.Save),
            ("Undo", QKeySequence.StandardKey.Undo),
        ]:
            assert QKeySequence(keys).toString(native) in rows[command]
        assert "Ctrl+Shift+S" in rows["Save As"]
        assert any(command.startswith("Redo") for command in rows)
        assert any("wheel" in keys.lower() for keys in rows.values())
        dialog.filter.setText("save")
        assert {c for c, _ in dialog.rows()} >= {"Save", "Save As"}
        assert all("save" in f"{c} {k}".lower() for c, k in dialog.rows())
    finally:
        dialog.close()


def test_per_theme_makes_once_per_theme(qapp) -> None:
    made: list[str] = []

    def make() -> str:
        made.append(theme.current().name)
        return theme.BACKGROUND.name()

    cached = theme.per_theme(make)
    try:
        assert cached() == cached() == theme.DARK.colours["background"]
        theme.set_theme("light")
        assert cached() == theme.LIGHT.colours["background"]
        theme.set_theme("dark")
        assert cached() == theme.DARK.colours["background"]
        assert made == ["dark", "light"]
    finally:
        theme.set_theme("dark")


def test_autosave_times_read_naturally() -> None:
    from studio.ui.recovery import describe_time

    now = time.mktime((2024, 3, 5, 15, 0, 0, 0, 0, -1))
    assert describe_time(now - 3600, now) == "today 14:00"
    assert describe_time(now - 86400, now) == "yesterday 15:00"
    assert describe_time(now - 10 * 86400, now) == "2024-02-24 15:00"
