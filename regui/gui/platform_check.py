"""Before Qt starts: are the system libraries there that Qt needs to open a window under X11?

Without them Qt aborts the process with "could not load the Qt platform plugin xcb" and a
paragraph that does not name what is missing. A minimal Debian or Ubuntu lacks several of them.
Nothing here imports Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys

# The shared libraries Qt 6's xcb platform plugin loads, and the Debian/Ubuntu package of each.
X11_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def uses_x11() -> bool:
    """Whether Qt will open its window through X11 (xcb): Linux, and not asked for another
    platform, and not in a Wayland session (where Qt takes Wayland)."""
    if not sys.platform.startswith("linux"):
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0] == "xcb"
    return bool(os.environ.get("DISPLAY")) and not os.environ.get("WAYLAND_DISPLAY")


def missing_x11_packages() -> list[str]:
    """The Debian/Ubuntu packages of the X11 libraries that cannot be loaded ([] if none, or
    if Qt will not use X11). Loading them is what Qt would do next anyway."""
    if not uses_x11():
        return []
    missing = []
    for library, package in X11_LIBRARIES.items():
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append(package)
    return missing
