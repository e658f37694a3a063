"""The engine: loading image folders and training SGD classifiers. No Qt here, ever.

It runs headless (the command line), inside the app's worker threads and on cluster
workers, so it must import nothing from PySide6 or pyqtgraph.
"""
