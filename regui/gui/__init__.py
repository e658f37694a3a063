"""The desktop app: a thin Qt layer over ``regui.core``.

All loading and training happens in the engine, on worker threads; this package only
starts the work, shows what it streams back, and exports it.
"""

import os

# Every Qt library here on the one binding regui uses, whatever else is installed: pyqtgraph
# and superqt (through qtpy) would otherwise pick the first binding they find.
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("QT_API", "pyside6")
