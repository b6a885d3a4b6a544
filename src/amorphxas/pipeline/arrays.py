"""Keep ``metrics.json`` small: bulky numeric arrays go into ``arrays/<stage>.npz``.

Every numeric list or array with more than :data:`MAX_INLINE` numbers is replaced in the JSON by
``{"npz": "arrays/<stage>.npz", "key": "<path.in.the.metrics>", "shape": [...]}`` and stored
under that key in the NPZ file (numpy format, no pickle): ``np.load(run_dir / ref["npz"])[ref["key"]]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amorphxas.core.files import atomic_open

#: arrays up to this many numbers stay in metrics.json
MAX_INLINE = 64


def _numeric(value) -> np.ndarray | None:
    """``value`` as a numeric array if it is a (nested) list/array of numbers, else None."""
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in "biuf" else None
    if not isinstance(value, (list, tuple)) or not value:
        return None
    try:
        array = np.asarray(value)
    except ValueError:  # ragged
        return None
    return array if array.dtype.kind in "biuf" else None


def jsonable(value):
    """``value`` with numpy scalars and arrays as plain Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def externalise(metrics: dict, run_dir: Path, max_inline: int = MAX_INLINE) -> dict:
    """A copy of ``metrics`` with every numeric array longer than ``max_inline`` moved into
    ``run_dir/arrays/<top-level key>.npz`` (written atomically) and referenced by name."""
    stores: dict[str, dict[str, np.ndarray]] = {}

    def walk(value, path: list[str]):
        array = _numeric(value)
        if array is not None and array.size > max_inline:
            name = f"arrays/{path[0]}.npz"
            key = ".".join(path[1:]) or path[0]
            stores.setdefault(name, {})[key] = array
            return {"npz": name, "key": key, "shape": list(array.shape)}
        if isinstance(value, dict):
            return {str(k): walk(v, path + [str(k)]) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, path + [str(i)]) for i, v in enumerate(value)]
        return jsonable(value)

    slim = {str(k): walk(v, [str(k)]) for k, v in metrics.items()}
    for name, arrays in stores.items():
        with atomic_open(run_dir / name, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return slim
