"""Install plugins for a test the way a user does, offline: real distributions, real entry points.

`pip_install` runs pip on a copy of a plugin's source (so no build folder lands in the checkout)
into a temporary target, without build isolation, which would need the network for
setuptools. `write_distribution` writes a bare ``.dist-info`` (metadata and entry points)
for fixture plugins whose code lives in the test suite. `on_path` puts such a folder on
`sys.path`, where `importlib.metadata.entry_points` finds it, and rediscovers the
application's registries on the way in and on the way out.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PLUGIN = REPO / "plugins" / "strata-extra-layers"


def pip_install(source: Path, target: Path) -> None:
    """``pip install --no-deps --no-build-isolation --target`` of a copy of `source`."""
    copy = target.parent / f"{source.name}-source"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(copy),
        ],
        check=True,
        capture_output=True,
    )


def write_distribution(
    folder: Path, name: str, version: str, entry_points: Mapping[str, Mapping[str, str]]
) -> Path:
    """A minimal installed distribution: ``NAME-VERSION.dist-info`` with its entry points."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{entry} = {value}" for entry, value in entries.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return info


def rediscover() -> None:
    """Forget what discovery found, so the next call sees what is installed now."""
    from studio.data.registry import default_datasets
    from studio.explain.methods import default_methods
    from studio.plugins import default_exporters, default_layers

    importlib.invalidate_caches()
    for cached in (default_layers, default_exporters, default_datasets, default_methods):
        cached.cache_clear()


@contextmanager
def on_path(folder: Path) -> Iterator[Path]:
    """`folder`'s distributions installed for the block; uninstalled (and rediscovered) after."""
    sys.path.insert(0, str(folder))
    rediscover()
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))
        rediscover()
