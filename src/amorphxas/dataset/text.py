"""Strings as HDF5 hands them back: ``bytes`` or ``str`` depending on how (and by which h5py
version) they were written. The one place that turns them into ``str``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def as_text(value: Any) -> Any:
    """``value`` with ``bytes`` decoded as UTF-8; any other value unchanged (None stays None)."""
    return value.decode() if isinstance(value, bytes) else value


def as_texts(values: Iterable) -> np.ndarray:
    """Every element as ``str`` (bytes decoded), shape (n,) dtype object."""
    return np.array([str(as_text(v)) for v in values], dtype=object)


def json_attr(attrs: Mapping, name: str, default: Any = None) -> Any:
    """The JSON value of the attribute ``name`` (``default`` if absent or empty)."""
    value = as_text(attrs.get(name))
    if value is None or value == "":
        return default
    return json.loads(value) if isinstance(value, str) else value
