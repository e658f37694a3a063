"""What the commands print, made safe for any terminal, encoding and pipe.

The commands print text people chose (run names, notes, class and folder names, file names),
so every line goes through ``SafeText`` while a command runs:

- control characters are shown escaped (``\\x1b``), so a name cannot recolour the terminal,
  retitle its window or move the cursor; only newlines, tabs and the carriage return that
  starts a progress line pass;
- characters the stream cannot encode (``λ`` on an ASCII terminal) are written as
  ``\\u03bb`` instead of raising UnicodeEncodeError in the middle of a sweep;
- a reader that goes away (``regui sweep | head``) ends the printing, not the work: the runs
  still finish, are stored and written to ``--out``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls but tab and newline


def escape_controls(text: str) -> str:
    """``text`` with every control character but newline and tab written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class SafeText(io.TextIOBase):
    """A text stream in front of ``stream`` that writes only what any terminal shows as text."""

    def __init__(self, stream) -> None:
        super().__init__()
        self.stream = stream
        self.gone = False  # the reader closed the pipe: the rest is dropped

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    def fileno(self) -> int:
        return self.stream.fileno()

    def write(self, text: str) -> int:
        if self.gone:
            return len(text)
        # A progress line redraws itself with a leading carriage return: that one is ours.
        lead = "\r" if text.startswith("\r") else ""
        shown = lead + escape_controls(text[len(lead) :])
        try:
            shown = shown.encode(self.encoding, "backslashreplace").decode(self.encoding)
        except LookupError:  # an encoding Python does not know: plain ASCII always works
            shown = shown.encode("ascii", "backslashreplace").decode("ascii")
        try:
            self.stream.write(shown)
        except (BrokenPipeError, ValueError):  # a closed pipe, or a closed stream
            self._went_away()
        return len(text)

    def flush(self) -> None:
        if self.gone:
            return
        try:
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            self._went_away()

    def _went_away(self) -> None:
        """Stop writing. Point the file descriptor at the null device as well, so that the
        interpreter's last flush at exit does not report the broken pipe either."""
        self.gone = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass


@contextlib.contextmanager
def safe_output():
    """Route ``sys.stdout`` and ``sys.stderr`` through SafeText while a command runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeText(sys.stdout), SafeText(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved
