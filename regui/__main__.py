"""``python -m regui`` is the same as the ``regui`` command."""

from regui.cli import main

raise SystemExit(main())
