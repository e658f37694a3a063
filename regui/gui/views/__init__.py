"""The views that look inside runs (weights, histograms, loss terms, confusion, mistakes), each a
thin drawing layer over ``regui.core.diagnostics``."""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")  # before any view imports pyqtgraph
