"""Errors the product shows to a person: one short line that says what happened and what to do."""


class CoreError(Exception):
    """Base class: any error whose message is meant for the user, never a traceback."""


class DataError(CoreError):
    """A dataset is missing, corrupt, refused as unsafe, or cannot be downloaded."""


class ParamError(CoreError, ValueError):
    """A hyperparameter, option or identifier is out of its allowed range."""


class RunError(CoreError):
    """A training run cannot be found, read, written or used."""


class ImageError(CoreError, ValueError):
    """An uploaded image cannot be read or is too large."""
