"""Take a screenshot of the window on a project, for the README and the release notes.

    python -m studio.ui.screenshot assets/examples/residual_cnn.strata --out editor.png \\
        --select block1_add --tab summary
    python -m studio.ui.screenshot assets/examples/cnn_classifier.strata --out data.png --tab data

Runs the real window (under Xvfb on a machine without a screen, or offscreen), waits until
the background analysis has filled in shapes and the summary (and, for ``--tab data``, the
data tab has read the data), and saves the window's pixels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer

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
        choices=("problems", "summary", "code", "data"),
        default="problems",
        help="the bottom dock to raise, or the Data tab in the centre",
    )
    parser.add_argument("--fit", action="store_true", help="fit the whole graph in the view")
    parser.add_argument("--zoom", type=float, help="zoom factor")
    parser.add_argument("--centre", help="centre the view on the node with this name")
    parser.add_argument("--search", help="text typed into the palette's search field")
    parser.add_argument(
        "--screen", action="store_true", help="grab the whole screen (e.g. Xvfb), not the window"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    app = create_application()
    window = MainWindow()
    window.resize(width, height)
    window.show()
    status = {"code": 1}

    def ready() -> bool:
        page = window.current
        return page is not None and page.shapes is not None and page.summary is not None

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
        if args.tab == "data":
            window.show_data_tab()
            QTimer.singleShot(100, wait_for_data)
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

    def capture() -> None:
        pixmap = window.screen().grabWindow(0) if args.screen else window.grab()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if pixmap.save(str(args.out)):
            print(f"saved {args.out} ({pixmap.width()}x{pixmap.height()})")
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
