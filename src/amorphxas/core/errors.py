"""Errors that the CLI shows as one line: what is wrong, and where."""


class AmorphxasError(Exception):
    """Base class: the message is the whole story, shown to the user as one line."""


class StructureError(AmorphxasError):
    """A structure file or object cannot be used (unreadable, unknown element, overlap, ...)."""


class DatasetError(AmorphxasError):
    """A dataset file is missing, of another schema version, or fails validation."""


class EngineError(AmorphxasError):
    """A DFT executable is missing or a DFT run failed (the message names the log file)."""


class ResourceError(AmorphxasError):
    """A computation would need more memory than the limit (the message names the input)."""


class InputError(AmorphxasError, ValueError):
    """An array given to a function is unusable: not numeric, wrong shape, NaN/inf, energy not
    increasing (see :mod:`amorphxas.core.validation`). Also a ValueError, as scikit-learn expects."""
