"""The bundled application's entry point: the script PyInstaller freezes into `StrataStudio`.

It is the `studio` command (no arguments or a `.strata` file open the window), with two
adjustments that only a frozen program needs.
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    # A frozen program re-runs itself for multiprocessing children (DataLoader workers).
    multiprocessing.freeze_support()
    # The window starts training as `sys.executable -m studio train ...`; frozen,
    # sys.executable is this program, which is already `studio`.
    if getattr(sys, "frozen", False) and sys.argv[1:3] == ["-m", "studio"]:
        del sys.argv[1:3]
    from studio.cli import main as studio_main

    return studio_main()


if __name__ == "__main__":
    raise SystemExit(main())
