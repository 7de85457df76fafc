"""The installers: desktop files, icons and install script (fast), the real build (slow).

The build takes minutes and about a gigabyte, so it is marked `slow`:
``.venv/bin/python -m pytest -m slow tests/test_installers.py``.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
INSTALLERS = ROOT / "installers"
LINUX = INSTALLERS / "linux"
APP_ICONS = ROOT / "assets" / "icons" / "app"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MIME_TYPE = "application/x-strata-project"
BUILD_TIMEOUT_S = 3600


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(LINUX / "strata-studio.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_the_desktop_entry_opens_strata_projects() -> None:
    entry = desktop_entry()

    assert entry["Type"] == "Application"
    assert entry["Name"] == "Strata Studio"
    assert entry["Exec"].split()[-1] == "%f"
    assert entry["Icon"] == "strata-studio"
    assert entry["Terminal"] == "false"
    assert MIME_TYPE in entry["MimeType"].split(";")
    assert entry["Categories"].endswith(";")


def test_the_mime_type_is_strata_files() -> None:
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(LINUX / "strata-studio.xml").getroot()

    (mime,) = root.findall("m:mime-type", ns)
    assert mime.get("type") == MIME_TYPE
    assert [g.get("pattern") for g in mime.findall("m:glob", ns)] == ["*.strata"]


def test_the_icon_comes_in_every_size_and_format() -> None:
    for size in SIZES:
        with Image.open(APP_ICONS / f"strata-{size}.png") as image:
            assert image.size == (size, size)
            assert image.mode == "RGBA"
    with Image.open(APP_ICONS / "strata.ico") as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(APP_ICONS / "strata.icns") as icns:
        assert (512, 512, 2) in icns.info["sizes"] or (512, 512, 1) in icns.info["sizes"]


def test_the_build_files_point_at_files_that_exist() -> None:
    spec = (INSTALLERS / "strata.spec").read_text("utf-8")
    compile(spec, "strata.spec", "exec")
    assert (INSTALLERS / "strata_main.py").is_file()
    iss = (INSTALLERS / "windows" / "strata.iss").read_text("utf-8")
    assert r"SetupIconFile={#Root}\assets\icons\app\strata.ico" in iss
    assert ".strata" in iss and "{uninstallexe}" in iss
    for script in (INSTALLERS / "build.sh", LINUX / "install.sh"):
        assert os.access(script, os.X_OK), script
        subprocess.run(["bash", "-n", str(script)], check=True)


def fake_bundle(folder: Path) -> Path:
    """The layout build.sh makes, with a shell script standing in for the frozen program."""
    app = folder / "StrataStudio"
    (app / "share").mkdir(parents=True)
    (app / "StrataStudio").write_text('#!/bin/sh\necho "fake studio $*"\n', encoding="utf-8")
    (app / "StrataStudio").chmod(0o755)
    shutil.copytree(ROOT / "assets" / "icons", app / "_internal" / "assets" / "icons")
    shutil.copy2(LINUX / "install.sh", app / "install.sh")
    for name in ("strata-studio.desktop", "strata-studio.xml"):
        shutil.copy2(LINUX / name, app / "share" / name)
    return app


def run_install(app: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
    }
    return subprocess.run(
        ["bash", str(app / "install.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def test_install_and_uninstall_for_one_user(tmp_path: Path) -> None:
    app = fake_bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    data = home / "data"
    installed = home / ".local" / "opt" / "strata-studio"

    result = run_install(app, home)

    assert f"installed in {installed}" in result.stdout
    assert "fake studio --self-test" in result.stdout  # the installed copy checked itself
    assert (installed / "StrataStudio").is_file()
    assert (home / ".local" / "bin" / "studio").resolve() == installed / "StrataStudio"
    desktop = (data / "applications" / "strata-studio.desktop").read_text("utf-8")
    assert f'Exec="{installed}/StrataStudio" %f' in desktop
    assert (data / "mime" / "packages" / "strata-studio.xml").is_file()
    for size in SIZES:
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "strata-studio.png"
        assert icon.read_bytes() == (APP_ICONS / f"strata-{size}.png").read_bytes()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "strata-studio.svg").is_file()

    result = run_install(installed, home, "--uninstall")

    assert "removed" in result.stdout
    assert not installed.exists()
    assert not (home / ".local" / "bin" / "studio").exists()
    assert not (data / "applications" / "strata-studio.desktop").exists()
    assert not list((data / "icons").rglob("strata-studio.*"))


def test_install_refuses_a_folder_without_the_program(tmp_path: Path) -> None:
    app = fake_bundle(tmp_path / "unpacked")
    (app / "StrataStudio").unlink()

    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_install(app, tmp_path / "home", "--no-self-test")

    assert "StrataStudio not found" in failed.value.stderr


@pytest.mark.slow
def test_the_linux_bundle_builds_and_passes_its_self_test(tmp_path: Path) -> None:
    """The real thing: build.sh (PyInstaller, self-test, tarball), then the unpacked
    tarball's program runs the self-test again, offscreen."""
    if sys.platform != "linux":
        pytest.skip("build.sh builds the Linux bundle")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["STRATA_SETTINGS_DIR"] = str(tmp_path / "settings")

    build = subprocess.run(
        ["bash", str(INSTALLERS / "build.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )

    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    assert "self-test passed" in build.stdout
    (tarball,) = (ROOT / "build" / "installer").glob("StrataStudio-*-linux-*.tar.gz")
    with tarfile.open(tarball) as archive:
        archive.extractall(tmp_path / "unpacked", filter="tar")
    app = tmp_path / "unpacked" / "StrataStudio"
    for name in ("install.sh", "share/strata-studio.desktop", "share/strata-studio.xml"):
        assert (app / name).is_file(), name
    env["QT_QPA_PLATFORM"] = "offscreen"
    result = subprocess.run(
        [str(app / "StrataStudio"), "--self-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bundled: yes" in result.stdout
    assert "  ok    compile" in result.stdout
