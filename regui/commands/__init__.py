"""The command-line commands (``regui run``, ``regui sweep``); the parser is in regui.cli."""
