"""Shape and dtype checks read from a dataclass's docstring, so the documented shapes are the checked ones.

A checked container documents each array field on one line of its docstring:

    name    [D1, D2, ...]    dtype    meaning

A dimension is a number (18), a size shared across fields (A, T, A') or such a size plus a number
(F+1). dtype is bool, an integer type (int8, int64, long, int) or a float type (float32, float64,
float); the check compares its kind only (the exact precision is the producer's business: WOMD keeps
positions in float64, the model runs in float32 or float64). A field whose annotation admits None may
be None. Under `python -OO` docstrings are gone and only the containers' own mask checks remain.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import Counter

import numpy as np

_LINE = re.compile(r"^\s*(\w+)\s+\[([^\]]*)\]\s+(\w+)\b")
_DIM = re.compile(r"^([A-Za-z_]\w*'*)\s*(?:\+\s*(\d+))?$")
_ARRAY = re.compile(r"^(np\.|numpy\.|torch\.)?(ndarray|Tensor)\b")  # an array annotation (or array | None)
_KINDS = {"bool": "bool", "int": "int", "long": "int", "int8": "int", "int32": "int", "int64": "int",
          "float": "float", "float32": "float", "float64": "float"}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One documented array field: dims are ints or (size name, offset) pairs."""

    name: str
    dims: tuple[int | tuple[str, int], ...]
    kind: str
    optional: bool


def _dim(text: str, where: str) -> int | tuple[str, int]:
    text = text.strip()
    if text.isdigit():
        return int(text)
    m = _DIM.match(text)
    if not m:
        raise TypeError(f"{where}: cannot read dimension {text!r}")
    return m.group(1), int(m.group(2) or 0)


@functools.cache
def field_specs(cls: type) -> tuple[FieldSpec, ...]:
    """The documented array fields of a dataclass, in field order; a TypeError names an array field
    (annotated ndarray or Tensor, maybe `| None`) that has no docstring line."""
    if cls.__doc__ is None:
        return ()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    found: dict[str, FieldSpec] = {}
    for line in cls.__doc__.splitlines():
        m = _LINE.match(line)
        if not m or m.group(1) not in fields:
            continue
        name, dims, dtype = m.groups()
        if dtype not in _KINDS:
            raise TypeError(f"{cls.__name__}.{name}: unknown dtype {dtype!r} in the docstring")
        where = f"{cls.__name__}.{name}"
        shape = tuple(_dim(d, where) for d in dims.split(",")) if dims.strip() else ()
        found[name] = FieldSpec(name, shape, _KINDS[dtype], "None" in str(fields[name].type))
    for name, f in fields.items():
        if name not in found and _ARRAY.match(str(f.type)):
            raise TypeError(
                f"{cls.__name__}.{name}: array field without a '{name} [dims] dtype' docstring line"
            )
    return tuple(found[n] for n in fields if n in found)


def dtype_kind(dtype) -> str:
    """'bool', 'int', 'float' (or another name) of a NumPy or torch dtype."""
    if hasattr(dtype, "is_floating_point"):  # torch.dtype
        if dtype.is_floating_point:
            return "float"
        if dtype.is_complex:
            return "complex"
        return "bool" if str(dtype) == "torch.bool" else "int"
    return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(np.dtype(dtype).kind, str(dtype))


def _show(dims, sizes: dict[str, int]) -> str:
    out = []
    for d in dims:
        if isinstance(d, int):
            out.append(str(d))
        else:
            sym, add = d
            label = sym + (f"+{add}" if add else "")
            out.append(f"{label}={sizes[sym] + add}" if sym in sizes else label)
    return "[" + ", ".join(out) + "]"


def _vote(values: list, sizes: dict[str, int]) -> dict[str, int]:
    """Sizes of the dimensions not in `sizes`: each the value most fields agree on (first on a tie), so
    the one field that differs is the one named."""
    votes: dict[str, Counter] = {}
    for spec, value in values:
        shape = getattr(value, "shape", None)
        if shape is None or len(shape) != len(spec.dims):
            continue
        for d, n in zip(spec.dims, shape, strict=True):
            if not isinstance(d, int) and d[0] not in sizes:
                votes.setdefault(d[0], Counter())[n - d[1]] += 1
    return {**sizes, **{sym: c.most_common(1)[0][0] for sym, c in votes.items()}}


def shape_problem(obj, owner: str, sizes: dict[str, int]) -> str | None:
    """The first documented field of `obj` whose rank, sizes or dtype kind is wrong, as a message
    naming `owner.field` with the expected and the actual shape; None when all fit. `sizes` holds the
    dimension sizes known so far (e.g. B) and gains those of `obj`'s fields."""
    values = [(spec, getattr(obj, spec.name)) for spec in field_specs(type(obj))]
    values = [(spec, v) for spec, v in values if not (v is None and spec.optional)]
    want = _vote(values, sizes)
    for spec, value in values:
        where, expected = f"{owner}.{spec.name}", _show(spec.dims, want)
        shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
        if shape is None or dtype is None:
            return f"{where}: expected an array of shape {expected}, got {type(value).__name__}"
        shape = tuple(shape)
        if len(shape) != len(spec.dims):  # (a dimension seen only in fields of the wrong rank has no size)
            return f"{where}: expected shape {expected}, got {shape}"
        sized = [d if isinstance(d, int) else want[d[0]] + d[1] for d in spec.dims]
        if shape != tuple(sized) or min(sized, default=0) < 0:
            return f"{where}: expected shape {expected}, got {shape}"
        if dtype_kind(dtype) != spec.kind:
            return f"{where}: expected dtype {spec.kind}, got {dtype}"
    sizes.update(want)
    return None
