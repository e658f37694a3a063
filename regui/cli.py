"""The ``regui`` command line.

    regui [DIR]                 open the app (on the bundled sample, or on DIR)
    regui run --dataset DIR [--penalty none l1 l2] [--alpha ...] [--epochs N] [--lr ...] ...

Errors in the input are one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import sys

from regui.commands.arguments import COMMANDS, build_parser
from regui.commands.common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNEXPECTED
from regui.core.errors import ReguiError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or (len(argv) == 1 and argv[0] not in COMMANDS and not argv[0].startswith("-")):
        return _open_app(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    from regui.commands.terminal import safe_output

    with safe_output():
        return _handle(args)


def _handle(args) -> int:
    """Run a command; every way it can fail is one line on stderr and an exit status."""
    try:
        return args.handler(args)
    except ReguiError as exc:
        print(f"regui: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\nregui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug, or a system fault such as a full disk: still one line
        if os.environ.get("REGUI_DEBUG"):
            raise
        print(f"regui: unexpected error: {type(exc).__name__}: {exc} (set REGUI_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_UNEXPECTED


def _open_app(folder: str | None) -> int:
    """``regui`` opens the app on the bundled sample; ``regui DIR`` opens it on DIR."""
    if sys.platform.startswith("linux") and not any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    ):
        print(
            "regui: error: no display to open the app on. Use 'regui run --dataset DIR' for the command "
            "line, or set QT_QPA_PLATFORM=offscreen.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from regui.gui.platform_check import missing_x11_packages

    missing = missing_x11_packages()
    if missing:
        print(
            f"regui: error: Qt needs system libraries to open a window that are not installed: {', '.join(missing)}. "
            f"On Debian or Ubuntu: sudo apt install {' '.join(missing)}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from regui.gui.app import run_app

    return run_app(folder)


if __name__ == "__main__":
    raise SystemExit(main())
