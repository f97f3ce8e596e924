"""What every benchmark script shares: paths, a description of the machine, atomic result files."""

from __future__ import annotations

import json
from pathlib import Path

from smartr1.machine import describe_machine as machine  # noqa: F401 (re-exported for the scripts)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "benchmarks" / "results"


def write_results(name: str, result: dict, markdown: list[str] | str) -> Path:
    """benchmarks/results/<name>.json and .md, each written atomically."""
    from smartr1.data.atomic import atomic_write_bytes

    text = markdown if isinstance(markdown, str) else "\n".join(markdown) + "\n"
    atomic_write_bytes(
        RESULTS / f"{name}.json", [(json.dumps(result, indent=1, default=str) + "\n").encode()]
    )
    atomic_write_bytes(RESULTS / f"{name}.md", [text.encode()])
    return RESULTS / f"{name}.json"
