"""A description of the machine a timing was taken on, for reports and benchmark results."""

from __future__ import annotations

import os
import platform

import torch


def describe_machine(device: str = "cpu") -> dict:
    """Cores, platform, torch build and threads, device (and GPU name), current load."""
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
