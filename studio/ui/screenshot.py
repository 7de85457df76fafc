"""Take a screenshot of the window on a project, for the README and the release notes.

    python -m studio.ui.screenshot assets/examples/residual_cnn.strata --out editor.png \\
        --select block1_add --tab summary
    python -m studio.ui.screenshot assets/examples/cnn_classifier.strata --out data.png --tab data
    python -m studio.ui.screenshot /tmp/iris.strata --out runs.png --tab runs --compare 3
    python -m studio.ui.screenshot /tmp/digits.strata --out evaluation.png --tab evaluation

Runs the real window (under Xvfb on a machine without a screen, or offscreen), waits until
the background analysis has filled in shapes and the summary (and, for ``--tab data``, the
data tab has read the data), and saves the window's pixels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QPixmap

from studio.ui.app import create_application
from studio.ui.main_window import MainWindow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="1600x1000", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--graph", help="show this graph of the project")
    parser.add_argument("--select", help="select the node with this name")
    parser.add_argument(
        "--tab",
        choices=(
            "problems",
            "summary",
            "code",
            "data",
            "runs",
            "evaluation",
            "explain",
            "training",
        ),
        default="problems",
        help="the bottom dock to raise, or the Data or Runs tab in the centre",
    )
    parser.add_argument(
        "--train-epochs",
        type=int,
        default=3,
        help="with --tab training: train this many epochs, then capture the dashboard",
    )
    parser.add_argument(
        "--mid-run",
        type=float,
        metavar="SECONDS",
        help="with --tab training: capture the dashboard this long into a run, then stop it",
    )
    parser.add_argument(
        "--compare", type=int, default=3, help="with --tab runs: select this many newest runs"
    )
    parser.add_argument(
        "--cell",
        help="with --tab evaluation: the confusion-matrix cell ACTUAL,PREDICTED to open "
        "(default: the most frequent mistake)",
    )
    parser.add_argument(
        "--methods",
        default="Saliency,IntegratedGradients",
        help="with --tab explain: the methods to run (comma-separated ids)",
    )
    parser.add_argument(
        "--samples", default="0", help="with --tab explain: test-split indices (comma-separated)"
    )
    parser.add_argument(
        "--input",
        type=Path,
        help="with --tab explain on a project without data: the .npy input to explain "
        "(default: a random input of the model's shape)",
    )
    parser.add_argument(
        "--global-importance",
        action="store_true",
        help="with --tab explain on a table model: compute the global importance too",
    )
    parser.add_argument("--fit", action="store_true", help="fit the whole graph in the view")
    parser.add_argument("--zoom", type=float, help="zoom factor")
    parser.add_argument("--centre", help="centre the view on the node with this name")
    parser.add_argument("--search", help="text typed into the palette's search field")
    parser.add_argument(
        "--screen", action="store_true", help="grab the whole screen (e.g. Xvfb), not the window"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait")
    parser.add_argument(
        "--export",
        metavar="FORMATS",
        help="open File ▸ Export…, export the latest run in these formats (comma-separated, "
        "or 'all') into --export-out, and grab the dialog once it has finished",
    )
    parser.add_argument("--export-out", type=Path, help="with --export: the output folder")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    app = create_application()
    window = MainWindow()
    window.resize(width, height)
    window.show()
    status = {"code": 1}

    def ready() -> bool:
        page = window.current
        runs = window.runs_model  # the run pickers fill in once the runs have been read
        read = runs.snapshot.complete and not runs.reading
        return page is not None and page.shapes is not None and page.summary is not None and read

    def stage() -> None:
        if args.graph:
            window.show_graph(args.graph)
        page = window.current
        assert page is not None
        if args.fit:
            window.view.fit_to_view()
        if args.select:
            node = page.graph.node_by_name(args.select)
            if node is None:
                print(f"no node named {args.select!r}", file=sys.stderr)
            else:
                page.scene.select_node(node.id)
        if args.zoom and not args.fit:
            window.view.set_zoom(args.zoom)
        centre = args.centre or (None if args.fit else args.select)
        if centre:
            node = page.graph.node_by_name(centre)
            if node is not None:
                window.view.centerOn(page.scene.nodes[node.id])
        if args.search:
            window.palette_panel.search.setText(args.search)
        docks = {"summary": window.summary_dock, "code": window.code_dock}
        docks.get(args.tab, window.problems_dock).raise_()
        if args.export:
            QTimer.singleShot(100, start_export)
        elif args.tab == "data":
            window.show_data_tab()
            QTimer.singleShot(100, wait_for_data)
        elif args.tab == "runs":
            window.show_runs_tab()
            QTimer.singleShot(100, wait_for_runs)
        elif args.tab == "evaluation":
            window.show_evaluation_tab()
            window.evaluation_tab.evaluate()
            QTimer.singleShot(100, wait_for_evaluation)
        elif args.tab == "explain":
            window.show_explain_tab()
            QTimer.singleShot(100, wait_for_explain)
        elif args.tab == "training":
            window.show_training_tab()
            dashboard = window.training_tab.dashboard
            if window.project is not None and window.project.path is not None:
                if args.mid_run:
                    # A run that is still going: grab it, then stop it and close.
                    dashboard.run_ended.connect(lambda _outcome: window.close())
                    dashboard.start_run(window.project.path)
                    QTimer.singleShot(int(args.mid_run * 1000), capture_mid_run)
                else:
                    dashboard.run_ended.connect(lambda _outcome: QTimer.singleShot(1500, capture))
                    dashboard.start_run(window.project.path, epochs=args.train_epochs)
        elif args.tab == "code":
            QTimer.singleShot(100, wait_for_code)
        else:
            QTimer.singleShot(400, capture)

    def wait_for_data() -> None:
        tab = window.data_tab
        if tab.reading or (tab.overview is None and tab.error is None):
            waited["ms"] += 100
            if waited["ms"] > args.timeout * 1000:
                print("timed out waiting for the data", file=sys.stderr)
                window.close()
                return
            QTimer.singleShot(100, wait_for_data)
            return
        QTimer.singleShot(400, capture)

    def wait_for_runs() -> None:
        view = window.runs_view
        wanted = [run.run_id for run in view.runs[: args.compare]]
        if view.busy or not view.runs:
            pass
        elif view.selected_ids() != wanted:
            view.select_runs(wanted)
        elif view.comparison is not None:
            QTimer.singleShot(600, capture)
            return
        waited["ms"] += 100
        if waited["ms"] > args.timeout * 1000:
            print("timed out waiting for the runs", file=sys.stderr)
            window.close()
            return
        QTimer.singleShot(100, wait_for_runs)

    def wait_for_evaluation() -> None:
        tab = window.evaluation_tab
        result = tab.evaluation.classification if tab.evaluation is not None else None
        if tab.error is not None:
            print(f"evaluation failed: {tab.error}", file=sys.stderr)
        elif result is not None and tab.cell is None and not tab.fetching_cell:
            if args.cell:
                actual, predicted = (int(v) for v in args.cell.split(","))
            else:
                mistakes = result.confusion.copy()
                mistakes.flat[:: len(mistakes) + 1] = 0
                actual, predicted = divmod(int(mistakes.argmax()), len(mistakes))
            tab.show_cell(actual, predicted)
        elif tab.evaluation is not None and (result is None or tab.cell is not None):
            QTimer.singleShot(600, capture)
            return
        waited["ms"] += 100
        if waited["ms"] > args.timeout * 1000 or tab.error is not None:
            if tab.error is None:
                print("timed out waiting for the evaluation", file=sys.stderr)
            window.close()
            return
        QTimer.singleShot(100, wait_for_evaluation)

    explain_state = {"started": False, "global": False, "input": False}

    def wait_for_explain() -> None:
        tab = window.explain_tab
        if tab.error is not None:
            print(f"explain failed: {tab.error}", file=sys.stderr)
            window.close()
            return
        methods = args.methods.split(",")
        given = tab.loaded is not None and tab.loaded.data is None
        if given and tab.file_error.isVisible():
            print(f"explain failed: {tab.file_error.text()}", file=sys.stderr)
            window.close()
            return
        if given and not explain_state["input"]:
            # A project without data (an imported model): its input from a file, or random.
            explain_state["input"] = True
            if args.input is not None:
                tab.load_input(args.input)
            else:
                tab.use_random_input()
        elif tab.loaded is not None and not explain_state["started"] and not tab.busy:
            explain_state["started"] = True
            tab.set_methods(methods)
            if not given:
                tab.select_samples([int(i) for i in args.samples.split(",")])
            tab.explain()
        elif explain_state["started"] and not tab.busy and len(tab.results) == len(methods):
            if args.global_importance and not explain_state["global"]:
                explain_state["global"] = True
                tab.compute_global_importance()
            elif not tab.importance_running:
                QTimer.singleShot(600, capture)
                return
        waited["ms"] += 100
        if waited["ms"] > args.timeout * 1000:
            print("timed out waiting for the explanation", file=sys.stderr)
            window.close()
            return
        QTimer.singleShot(100, wait_for_explain)

    def wait_for_code() -> None:
        if "class " not in window.code_view.text():
            waited["ms"] += 100
            if waited["ms"] > args.timeout * 1000:
                print("timed out waiting for the code", file=sys.stderr)
                window.close()
                return
            QTimer.singleShot(100, wait_for_code)
            return
        QTimer.singleShot(400, capture)

    def start_export() -> None:
        from studio.ui.export_dialog import ExportDialog

        dialog = window.export_dialog or window.show_export_dialog()
        if not isinstance(dialog, ExportDialog) or not dialog.format_boxes:
            waited["ms"] += 100
            if dialog is None or waited["ms"] > args.timeout * 1000:
                print("the project has no trained run to export", file=sys.stderr)
                window.close()
                return
            QTimer.singleShot(100, start_export)
            return
        formats = args.export.split(",")
        dialog.set_formats(list(dialog.format_boxes) if formats == ["all"] else formats)
        if args.export_out:
            dialog.folder_edit.setText(str(args.export_out))
        dialog.start_export()
        QTimer.singleShot(100, wait_for_export)

    def wait_for_export() -> None:
        dialog = window.export_dialog
        if dialog is not None and dialog.busy:
            waited["ms"] += 100
            if waited["ms"] > args.timeout * 1000:
                print("timed out waiting for the export", file=sys.stderr)
                window.close()
                return
            QTimer.singleShot(100, wait_for_export)
            return
        QTimer.singleShot(400, capture)

    def capture_mid_run() -> None:
        if save(window.grab()):
            status["code"] = 0
        window.set_modified(False)
        window.training_tab.dashboard.stop()

    def save(pixmap: QPixmap) -> bool:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if pixmap.save(str(args.out)):
            print(f"saved {args.out} ({pixmap.width()}x{pixmap.height()})")
            return True
        return False

    def capture() -> None:
        pixmap = window.screen().grabWindow(0) if args.screen else window.grab()
        if args.export and window.export_dialog is not None and not args.screen:
            pixmap = window.export_dialog.grab()
        if save(pixmap):
            status["code"] = 0
        window.set_modified(False)
        window.close()

    waited = {"ms": 0}

    def poll() -> None:
        page = window.current
        if args.graph and page is not None and page.name != args.graph:
            window.show_graph(args.graph)
        if ready():
            # Analyse every graph so the status bar shows the device too.
            if window.device_label is None:
                QTimer.singleShot(100, poll)
                return
            QTimer.singleShot(300, stage)
            return
        waited["ms"] += 100
        if waited["ms"] > args.timeout * 1000:
            print("timed out waiting for the analysis", file=sys.stderr)
            window.close()
            return
        QTimer.singleShot(100, poll)

    window.open_project(args.project)
    QTimer.singleShot(100, poll)
    app.exec()
    window.shutdown()
    return status["code"]


if __name__ == "__main__":
    raise SystemExit(main())
