"""regui: watch regularization shape a linear image classifier.

Importing this package must stay cheap and must not import Qt: the engine in
``regui.core`` runs headless and on cluster workers. The notebook API is loaded on first use:

    from regui import MiniBatchSGDClassifier, load_folder
"""

__version__ = "0.1.0"
__all__ = ["MiniBatchSGDClassifier", "load_folder"]


def __getattr__(name: str):
    # Loaded when first asked for, so that `import regui` (every command, every worker) stays cheap.
    if name == "MiniBatchSGDClassifier":
        from regui.core.estimator import MiniBatchSGDClassifier

        return MiniBatchSGDClassifier
    if name == "load_folder":
        from regui.core.dataset import load_folder

        return load_folder
    raise AttributeError(f"module 'regui' has no attribute {name!r}")
