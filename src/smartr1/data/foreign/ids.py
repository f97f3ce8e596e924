"""Foreign ids (strings such as nuScenes tokens, "ego", "AV") -> the unique int64 ids WOMD needs."""

from __future__ import annotations

INT64_MAX = 2**63 - 1


def _as_int(key) -> int | None:
    try:
        v = int(str(key).strip())
    except ValueError:
        return None
    return v if 0 <= v <= INT64_MAX else None


def int_ids(keys, first: int = 1) -> dict[str, int]:
    """Source key (as str) -> int64 id. Distinct non-negative integer keys keep their value (WOMD-
    sourced and AV2 ids stay recognisable); the others ("ego", "AV", tokens) are numbered after the
    largest of them (or from `first`) in the order given, which is the file's order."""
    keys = [str(k) for k in keys]
    values = [_as_int(k) for k in keys]
    numeric = [v for v in values if v is not None]
    if len(set(numeric)) != len(numeric):  # "01" and "1": no value can be trusted to stay unique
        values, numeric = [None] * len(keys), []
    nxt = max(numeric, default=first - 1) + 1
    out = {}
    for k, v in zip(keys, values, strict=True):
        if v is None:
            v, nxt = nxt, nxt + 1
        out[k] = v
    return out
