"""Float32 elementary functions that round like the official TF/NumPy code.

On this CPU build torch's float32 `sqrt` is not correctly rounded (about 1 value in 6 is 1 ulp off),
which is enough to flip an occasional histogram bin. On CPU we therefore evaluate `sqrt`, `cos` and
`sin` with NumPy (zero-copy views, correctly rounded sqrt); on other devices torch's kernels are used.
"""

from __future__ import annotations

import math

import numpy as np
import torch

F32 = torch.float32
PI = float(np.float32(math.pi))
TWO_PI = float(np.float32(2 * math.pi))


def _numpy_unary(fn, x: torch.Tensor) -> torch.Tensor:
    arr = x.detach().contiguous().numpy()
    return torch.from_numpy(fn(arr))


def sqrt(x: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cpu" and x.dtype == F32:
        with np.errstate(invalid="ignore"):
            return _numpy_unary(np.sqrt, x)
    return torch.sqrt(x)


def cos(x: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cpu" and x.dtype == F32:
        with np.errstate(invalid="ignore"):
            return _numpy_unary(np.cos, x)
    return torch.cos(x)


def sin(x: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cpu" and x.dtype == F32:
        with np.errstate(invalid="ignore"):
            return _numpy_unary(np.sin, x)
    return torch.sin(x)


def norm2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sqrt(a² + b²), summed left to right like tf.linalg.norm over a 2-vector."""
    return sqrt(a * a + b * b)


def norm3(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return sqrt((a * a + b * b) + c * c)


def wrap_angle(a: torch.Tensor) -> torch.Tensor:
    """((a + π) floormod 2π) − π in f32; wrap(π) = −π."""
    return torch.remainder(a + PI, TWO_PI) - PI


def divide_no_nan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a / b, and 0 where b == 0 (tf.math.divide_no_nan)."""
    zero = b == 0
    return torch.where(zero, torch.zeros_like(a), a / torch.where(zero, torch.ones_like(b), b))


def to_tensor(arr: np.ndarray, device: str | torch.device) -> torch.Tensor:
    """A NumPy array (any layout) as a tensor on `device`, sharing memory on CPU."""
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device)
