"""The real application on a real X server (Xvfb, Qt's xcb platform), captured from the screen.

Skipped when Xvfb or ImageMagick's `import` is missing (scripts/setup.sh installs both).
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
SCREEN = (1600, 1000)

pytestmark = [
    pytest.mark.skipif(
        shutil.which("Xvfb") is None,
        reason="Xvfb is not installed (scripts/setup.sh installs xvfb)",
    ),
    pytest.mark.skipif(
        shutil.which("import") is None,
        reason="ImageMagick's `import` is not installed (scripts/setup.sh installs imagemagick)",
    ),
]


def _stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def x_display() -> Iterator[str]:
    """A fresh Xvfb server; the display number is the one it chose (`-displayfd`)."""
    read_end, write_end = os.pipe()
    width, height = SCREEN
    server = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end, "r") as reader:
            number = reader.readline().strip()
        if not number:
            pytest.fail("Xvfb did not start")
        yield f":{number}"
    finally:
        _stop(server)


def _window_visible(display: str, title: str) -> bool:
    if shutil.which("xdotool") is None:
        return False
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", title],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(found.stdout.strip())


def grey_spread(image: QImage) -> float:
    values = []
    for y in range(0, image.height(), 10):
        for x in range(0, image.width(), 10):
            c = image.pixelColor(x, y)
            values.append(0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue())
    return statistics.pstdev(values)


def test_the_real_window_on_xvfb(x_display: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DISPLAY": x_display,
        "QT_QPA_PLATFORM": "xcb",
        "STRATA_SETTINGS_DIR": str(tmp_path / "settings"),
        "PYTHONPATH": str(ROOT),
    }
    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen(
        [sys.executable, "-m", "studio", "gui", "assets/examples/cnn_classifier.strata"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    shot = tmp_path / "screen.png"
    try:
        deadline = time.monotonic() + 60
        # The title names the project once it is open; without xdotool, just give it time.
        while not _window_visible(x_display, "CNN image classifier"):
            assert app.poll() is None, (tmp_path / "app.log").read_text()
            if time.monotonic() > deadline:
                if shutil.which("xdotool") is None:
                    break
                pytest.fail("the window did not appear:\n" + (tmp_path / "app.log").read_text())
            time.sleep(0.2)
        time.sleep(2.0)  # the canvas fills in and the analysis puts shapes on the edges
        subprocess.run(
            ["import", "-window", "root", str(shot)],
            env={**os.environ, "DISPLAY": x_display},
            check=True,
            timeout=60,
        )
        assert app.poll() is None, "the application exited"
    finally:
        _stop(app)
        log.close()
    assert app.returncode in (0, -signal.SIGTERM), (tmp_path / "app.log").read_text()
    image = QImage(str(shot))
    assert not image.isNull(), "the screenshot is not a readable PNG"
    assert (image.width(), image.height()) == SCREEN
    assert grey_spread(image) > 10, "the screen is blank"
    # The window fills the screen: its dark canvas and panels, not the X root's black.
    black = sum(
        1
        for y in range(0, image.height(), 20)
        for x in range(0, image.width(), 20)
        if image.pixelColor(x, y).value() < 8
    )
    assert black < 0.2 * (image.width() // 20) * (image.height() // 20)
