"""The command-line commands (``regui run``, ``regui sweep``, ``regui runs``) and their arguments."""
