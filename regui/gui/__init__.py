"""The desktop app: a thin Qt layer over ``regui.core``.

All loading and training happens in the engine, on worker threads; this package only
starts the work, shows what it streams back, and exports it.
"""
