"""Load untrusted pickles (ScenarioNet scenes) without letting them run code.

A pickle names the callables that rebuild its objects, and `pickle.load` calls whatever it names
(`os.system` included). ScenarioNet's scenes are plain dicts, lists and NumPy arrays, so the
unpickler here admits only the few globals those need: NumPy's array, scalar and dtype rebuilders
and a handful of builtin container types. Anything else is refused before it is called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

from smartr1.data.errors import DataError

# Module names as older pickles spell them -> the name checked against ALLOWED.
_RENAMES = {
    "__builtin__": "builtins",
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
}
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),  # ndarray.__reduce__
        ("numpy._core.multiarray", "scalar"),  # NumPy scalars (np.float64(1.0))
        ("numpy._core.numeric", "_frombuffer"),  # arrays under pickle protocol 5
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("builtins", "complex"),
        ("builtins", "slice"),
        ("_codecs", "encode"),  # bytes under protocols 0-2 (it only encodes a string)
    }
)


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside `ALLOWED`."""


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in `ALLOWED`."""

    def find_class(self, module: str, name: str):
        key = (_RENAMES.get(module, module), name)
        if key not in ALLOWED:
            raise UnsafePickleError(
                f"refused to load global {module}.{name}: only builtins and NumPy arrays are allowed "
                "(a ScenarioNet scene never needs more; this file may be malicious)"
            )
        try:
            return super().find_class(*key)
        except (ImportError, AttributeError):  # NumPy 1.x has numpy.core, not numpy._core
            return super().find_class(module, name)


def safe_loads(data: bytes):
    """The object in `data`, unpickled with `SafeUnpickler`."""
    return SafeUnpickler(io.BytesIO(data)).load()


def load_pickle(path: str | Path):
    """The object in a pickle file; a refused global or a broken file is a `DataError` naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from e
    try:
        return safe_loads(data)
    except UnsafePickleError as e:
        raise DataError(path, str(e)) from e
    except Exception as e:  # a truncated or corrupt pickle fails in many ways, all of them bad input
        raise DataError(path, f"not a readable pickle ({type(e).__name__}: {e})") from e
