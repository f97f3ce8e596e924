"""Motion vocabularies: per agent class, V motions of 0.5 s stored in the frame of their start pose.

A token is a 5-step motion; tokens are compared by the mean corner distance of their end boxes (a
fixed box per class), which measures position and heading at once. Token 0 is 'no motion' in every
class. Building a vocabulary from data is `smartr1.tokens.vocab_build`.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import numpy as np
import torch

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError
from smartr1.data.geometry import box_corners
from smartr1.data.scenario import AgentType
from smartr1.data.timeline import STEPS_PER_TOKEN

AGENT_CLASSES = 3
CLASS_NAMES = ("vehicle", "pedestrian", "cyclist")
# Fixed (length, width) boxes used for clustering and matching, per class.
CLASS_BOX = torch.tensor([[4.8, 2.0], [1.0, 1.0], [2.0, 1.0]], dtype=torch.float32)
NO_MOTION = 0  # token id of 'stay put' in every class
DEFAULT_VOCAB_SIZE = 512
FORMAT_VERSION = 1

_TYPE_TO_CLASS = np.zeros(256, np.int64)
_TYPE_TO_CLASS[int(AgentType.PEDESTRIAN)] = 1
_TYPE_TO_CLASS[int(AgentType.CYCLIST)] = 2


def agent_class(womd_type):
    """WOMD AgentType -> 0 vehicle / 1 pedestrian / 2 cyclist ('unset' and 'other' count as vehicles)."""
    if isinstance(womd_type, torch.Tensor):
        t = womd_type.long()
        out = torch.zeros_like(t)
        out[t == int(AgentType.PEDESTRIAN)] = 1
        out[t == int(AgentType.CYCLIST)] = 2
        return out
    return _TYPE_TO_CLASS[np.asarray(womd_type).astype(np.int64) & 0xFF]


@dataclass
class MotionVocab:
    """Per class a vocabulary of V 0.5 s motions, stored in the frame of the start pose."""

    poses: torch.Tensor  # [3, V, 5, 3] float32: (x, y, heading) after 1..5 steps, local frame
    contours: torch.Tensor  # [3, V, 4, 2]: box corners of the END pose (fixed class box), local frame
    size: int  # V
    config: dict = field(default_factory=dict)  # how it was built (JSON-able)

    def __post_init__(self):
        v = self.poses.shape[1]
        if self.poses.shape != (AGENT_CLASSES, v, STEPS_PER_TOKEN, 3) or v != self.size:
            raise ValueError(
                f"vocab poses have shape {tuple(self.poses.shape)}, expected [3, {self.size}, 5, 3]"
            )

    @classmethod
    def from_poses(cls, poses: torch.Tensor, config: dict | None = None) -> MotionVocab:
        poses = poses.float()
        contours = box_corners(poses[:, :, -1], CLASS_BOX[:, None, 0], CLASS_BOX[:, None, 1])
        return cls(poses=poses, contours=contours, size=int(poses.shape[1]), config=dict(config or {}))

    def to(self, device) -> MotionVocab:
        return MotionVocab(self.poses.to(device), self.contours.to(device), self.size, self.config)

    @property
    def device(self) -> torch.device:
        return self.poses.device

    @property
    def hash(self) -> str:
        h = hashlib.sha256()
        h.update(f"motion-vocab-v{FORMAT_VERSION}:{self.size}:".encode())
        h.update(self.poses.detach().cpu().float().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def save(self, path) -> None:
        buf = io.BytesIO()
        payload = {
            "format": FORMAT_VERSION,
            "poses": self.poses.detach().cpu().float(),
            "size": self.size,
            "config": self.config,
            "hash": self.hash,
        }
        torch.save(payload, buf)
        atomic_write_bytes(path, [buf.getvalue()])

    @classmethod
    def load(cls, path) -> MotionVocab:
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is bad input
            raise DataError(path, f"not a readable motion vocabulary ({e})") from e
        if not isinstance(d, dict) or d.get("format") != FORMAT_VERSION or "poses" not in d:
            raise DataError(path, f"not a motion vocabulary of format {FORMAT_VERSION}")
        vocab = cls.from_poses(d["poses"], d.get("config"))
        if d.get("hash") and d["hash"] != vocab.hash:
            raise DataError(
                path, f"vocabulary content hash {vocab.hash} does not match the stored {d['hash']}"
            )
        return vocab
