"""regui: watch regularization shape a linear image classifier.

Importing this package must stay cheap and must not import Qt: the engine in
``regui.core`` runs headless and on cluster workers.
"""

__version__ = "0.1.0"
