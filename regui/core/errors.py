"""Errors the engine raises on purpose, each with a message meant for a person."""


class ReguiError(Exception):
    """Base class: the message says what went wrong and, where it can, what to change."""


class DatasetError(ReguiError):
    """The folder cannot be used as a dataset (missing, too few classes, an empty class...)."""


class Cancelled(ReguiError):
    """Work was stopped on request before it finished."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


class ConfigError(ReguiError):
    """A setting is out of range or does not combine with another one."""


class TrainingDiverged(ReguiError):
    """The weights or the loss became infinite or NaN; the message says what to change."""

    def __init__(self, message: str, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch
