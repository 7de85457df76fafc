"""Training below the window's priority.

On a laptop with two or four cores, a training child that keeps every core busy delays the
window's event loop by tens of milliseconds whenever the scheduler hands a core to the
child first: the plots stutter although the window's own work per frame is small. Lowering
the child's priority gives the window the cores the moment it needs them; while the window
is idle the child still gets all of them, so training time hardly changes.
"""

from __future__ import annotations

import os
import sys

# A nice value of 10 is what desktop environments use for background work (e.g. indexers).
NICE_INCREMENT = 10
_BELOW_NORMAL_PRIORITY_CLASS = 0x00004000


def lower_priority() -> bool:
    """Lower this process's scheduling priority; False where the platform refuses.

    Only this process (and what it starts later) is affected; nothing here needs privileges.
    """
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        return bool(
            kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), _BELOW_NORMAL_PRIORITY_CLASS)
        )
    try:
        os.nice(NICE_INCREMENT)
    except OSError:
        return False
    return True
