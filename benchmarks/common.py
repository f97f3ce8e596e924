"""What every benchmark script shares: paths, a description of the machine, atomic result files."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "benchmarks" / "results"


def machine(device: str = "cpu") -> dict:
    """The facts a timing needs next to it: cores, platform, torch build and threads, device, load."""
    import torch

    info = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "loadavg_1min_start": os.getloadavg()[0],
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def write_results(name: str, result: dict, markdown: list[str] | str) -> Path:
    """benchmarks/results/<name>.json and .md, each written atomically."""
    from smartr1.data.tfrecord import atomic_write_bytes

    text = markdown if isinstance(markdown, str) else "\n".join(markdown) + "\n"
    atomic_write_bytes(
        RESULTS / f"{name}.json", [(json.dumps(result, indent=1, default=str) + "\n").encode()]
    )
    atomic_write_bytes(RESULTS / f"{name}.md", [text.encode()])
    return RESULTS / f"{name}.json"
