"""Progress of a long library loop (MD stages, descriptor chunks), reported through a callback.

Library code never draws: it calls ``progress(done, total, label)`` after each step (the same
shape as :data:`amorphxas.pipeline.Progress`), and the command line draws the bar
(``amorphxas.cli._progress``). A function's ``progress`` argument may also be ``True`` (each
step goes to the ``logging`` logger of its module at INFO level) or ``False``/``None`` (silent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

#: progress(done, total, label): ``done`` of ``total`` steps (MD steps, cells) finished, ``label``
#: what runs now
Progress = Callable[[int, int, str], None]


def reporter(progress: Progress | bool | None, logger: logging.Logger) -> Progress:
    """``progress`` as a callback: itself if callable, ``True``: a line to ``logger`` per step,
    ``False``/``None``: nothing."""
    if callable(progress):
        return progress
    if progress:
        return lambda done, total, label: logger.info("%s: %d/%d", label, done, total)
    return lambda done, total, label: None
