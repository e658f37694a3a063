"""``python -m regui`` is the same as the ``regui`` command."""

from regui.cli import main

# Guarded: sweep workers are spawned processes, which import the main module again.
if __name__ == "__main__":
    raise SystemExit(main())
