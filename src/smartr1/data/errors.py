"""One error type for bad input data, so that every message names the file, record and problem."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input: a corrupt or truncated file, an undecodable record, or an unusable scenario."""

    def __init__(self, path: str | Path | None, problem: str, record: int | None = None):
        self.path = None if path is None else str(path)
        self.record = record
        self.problem = problem
        where = self.path or "<memory>"
        if record is not None:
            where += f", record {record}"
        super().__init__(f"{where}: {problem}")
