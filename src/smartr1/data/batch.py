"""Tokenized scenes and padded batches for the model, with an on-disk token cache.

Tokenizing is done once per scenario and cached per TFRecord shard, keyed by the vocabulary hash and
the preprocessing config (and the shard's size and mtime); a change to either writes a new cache file.
Padding is always masked: padded agents have `agent_mask`, `sim_mask`, `train_mask`, `token_valid`
and `pose_valid` False and token -1; padded map segments have `map_mask` False.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.scenario import Scenario
from smartr1.data.tfrecord import atomic_write_bytes
from smartr1.tokens.map import SEGMENT_POINTS, MapSegments, tokenize_map
from smartr1.tokens.motion import (
    NUM_SLOTS,
    TRAIN_MAX_NEARBY,
    TRAIN_MIN_FUTURE_SLOTS,
    TRAIN_RADIUS,
    AgentTokens,
    MotionVocab,
    tokenize_scenario,
    torch_threads,
)

# Bump when tokenization or map segmentation changes what lands in the cache.
PREPROCESS_VERSION = 1


class TokenizedScene(NamedTuple):
    """One scenario ready for batching (a tuple, so `collate` also takes plain tuples)."""

    scenario_id: str
    agents: AgentTokens
    map: MapSegments


@dataclass
class SceneBatch:
    """B scenarios padded to the same agent / map-segment counts. Positions stay in world coordinates
    (models use relative pose encodings only)."""

    scenario_id: list[str]
    agent_id: torch.Tensor  # [B, A] long (-1 padding)
    agent_mask: torch.Tensor  # [B, A] bool, real (non-padding) agents
    agent_class: torch.Tensor  # [B, A] long
    agent_size: torch.Tensor  # [B, A, 3]
    agent_z: torch.Tensor  # [B, A]
    token: torch.Tensor  # [B, A, 18] long (-1 where invalid)
    token_valid: torch.Tensor  # [B, A, 18] bool
    pose: torch.Tensor  # [B, A, 19, 3] tokenized anchor poses
    sim_mask: torch.Tensor  # [B, A] bool, valid at step 10 (the WOSAC sim agents)
    train_mask: torch.Tensor  # [B, A] bool, role agents + nearby with enough valid future
    map_points: torch.Tensor  # [B, M, 11, 2]
    map_pose: torch.Tensor  # [B, M, 3]
    map_kind: torch.Tensor  # [B, M] long
    map_light: torch.Tensor  # [B, M] long
    map_mask: torch.Tensor  # [B, M] bool
    # Added fields:
    pose_valid: torch.Tensor  # [B, A, 19] bool, anchor pose exists
    map_feature_id: torch.Tensor  # [B, M] long (-1 padding)

    @property
    def num_scenes(self) -> int:
        return len(self.scenario_id)

    def to(self, device) -> SceneBatch:
        return dataclasses.replace(
            self,
            **{
                f.name: getattr(self, f.name).to(device)
                for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), torch.Tensor)
            },
        )


def _pad(tensors: list[torch.Tensor], length: int, fill) -> torch.Tensor:
    """Stack [n_i, ...] tensors into [B, length, ...] filled with `fill`."""
    ref = tensors[0]
    out = torch.full((len(tensors), length, *ref.shape[1:]), fill, dtype=ref.dtype)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
    return out


def collate(items: list) -> SceneBatch:
    """Pad scenes `(scenario_id, AgentTokens, MapSegments, ...)` into one SceneBatch (>= 1 map slot)."""
    if not items:
        raise ValueError("collate needs at least one scene")
    ids = [it[0] for it in items]
    ag: list[AgentTokens] = [it[1] for it in items]
    mp: list[MapSegments] = [it[2] for it in items]
    a = max(t.num_agents for t in ag)
    m = max(1, max(s.num_segments for s in mp))

    def agents(name):
        return [getattr(t, name) for t in ag]

    def maps(name):
        return [getattr(s, name) for s in mp]

    n_a = torch.tensor([t.num_agents for t in ag])
    n_m = torch.tensor([s.num_segments for s in mp])
    return SceneBatch(
        scenario_id=ids,
        agent_id=_pad(agents("agent_id"), a, -1),
        agent_mask=torch.arange(a)[None] < n_a[:, None],
        agent_class=_pad(agents("agent_class"), a, 0),
        agent_size=_pad(agents("size"), a, 0.0),
        agent_z=_pad(agents("z"), a, 0.0),
        token=_pad(agents("token"), a, -1),
        token_valid=_pad(agents("valid"), a, False),
        pose=_pad(agents("pose"), a, 0.0),
        sim_mask=_pad(agents("sim_mask"), a, False),
        train_mask=_pad(agents("train_mask"), a, False),
        map_points=_pad(maps("points"), m, 0.0),
        map_pose=_pad(maps("pose"), m, 0.0),
        map_kind=_pad(maps("kind"), m, 0),
        map_light=_pad(maps("light"), m, 0),
        map_mask=torch.arange(m)[None] < n_m[:, None],
        pose_valid=_pad(agents("pose_valid"), a, False),
        map_feature_id=_pad(maps("feature_id"), m, -1),
    )


def crop_map(scene: TokenizedScene, radius: float) -> TokenizedScene:
    """Drop map segments farther than `radius` from every anchor pose of every agent.

    With radius = map-to-agent radius + map layers x map-map radius (plus a margin), no segment the
    model could attend to is dropped, so training on the cropped scene gives the same loss; SUMO maps
    carry thousands of junction-lane segments that no agent of a training scene can reach.
    """
    m = scene.map
    valid = scene.agents.pose_valid
    if m.num_segments == 0 or valid is None or not bool(valid.any()):
        return scene
    anchors = scene.agents.pose[..., :2][valid]  # [K, 2]
    seg = m.points  # [M, 11, 2]: keep a segment if any of its points is in reach
    lo = anchors.min(0).values - radius
    hi = anchors.max(0).values + radius
    in_box = ((seg >= lo) & (seg <= hi)).all(-1).any(-1)
    keep = torch.zeros(m.num_segments, dtype=torch.bool)
    idx = torch.nonzero(in_box).squeeze(1)
    r2 = radius * radius
    for chunk in idx.split(512):
        d2 = ((seg[chunk][:, :, None, :] - anchors[None, None]) ** 2).sum(-1)  # [c, 11, K]
        keep[chunk] = (d2 <= r2).flatten(1).any(1)
    if bool(keep.all()):
        return scene
    cropped = MapSegments(
        points=m.points[keep],
        pose=m.pose[keep],
        kind=m.kind[keep],
        light=m.light[keep],
        feature_id=m.feature_id[keep],
    )
    return TokenizedScene(scene.scenario_id, scene.agents, cropped)


def collate_cropped(items: list, radius: float) -> SceneBatch:
    """`collate` after `crop_map` of every scene (a top-level function, so DataLoader workers can pickle it)."""
    return collate([crop_map(TokenizedScene(*it[:3]), radius) for it in items])


def check_usable(scenario: Scenario, path=None, record=None) -> None:
    """DataError naming the scenario if it cannot be tokenized (no agents, none valid now, NaN)."""
    sid = scenario.scenario_id
    t = scenario.tracks
    if t.num_agents == 0:
        raise DataError(path, f"scenario {sid!r}: has no agents", record)
    if not np.asarray(t.valid)[:, scenario.current_step].any():
        raise DataError(path, f"scenario {sid!r}: no agent is valid at the current step", record)
    for name in ("x", "y", "z", "heading", "length", "width", "height"):
        bad = ~np.isfinite(np.asarray(getattr(t, name), np.float64)) & np.asarray(t.valid, bool)
        if bad.any():
            a, step = np.argwhere(bad)[0]
            raise DataError(
                path,
                f"scenario {sid!r}: non-finite {name} of track {int(t.id[a])} at step {int(step)}",
                record,
            )
    if len(scenario.map.points) and not np.isfinite(scenario.map.points).all():
        raise DataError(path, f"scenario {sid!r}: non-finite map points", record)


def prepare_scene(scenario: Scenario, vocab: MotionVocab, map_step: int | None = None) -> TokenizedScene:
    """Tokenize one scenario (agents and map; traffic lights at `map_step`, default the current step)."""
    check_usable(scenario)
    step = scenario.current_step if map_step is None else map_step
    return TokenizedScene(
        scenario.scenario_id, tokenize_scenario(scenario, vocab), tokenize_map(scenario, step)
    )


def scene_batch_from_scenarios(scenarios: list[Scenario], vocab: MotionVocab) -> SceneBatch:
    """Tokenize and collate in memory (no cache)."""
    return collate([prepare_scene(s, vocab) for s in scenarios])


# ----------------------------------------------------------------------------------------- caching
def preprocess_config(map_step: int | None = None) -> dict:
    """Everything besides the vocabulary that changes the cached tokens."""
    return {
        "version": PREPROCESS_VERSION,
        "map_step": map_step,
        "slots": NUM_SLOTS,
        "segment_points": SEGMENT_POINTS,
        "train": [TRAIN_RADIUS, TRAIN_MAX_NEARBY, TRAIN_MIN_FUTURE_SLOTS],
    }


def cache_key(vocab: MotionVocab, config: dict) -> str:
    blob = json.dumps({"vocab": vocab.hash, "config": config}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _scene_to_dict(scene: TokenizedScene) -> dict:
    ag = {f.name: getattr(scene.agents, f.name) for f in dataclasses.fields(AgentTokens)}
    ag["token"] = ag["token"].to(torch.int16)  # vocab sizes stay far below 2**15
    mp = {f.name: getattr(scene.map, f.name) for f in dataclasses.fields(MapSegments)}
    return {"scenario_id": scene.scenario_id, "agents": ag, "map": mp}


def _scene_from_dict(d: dict) -> TokenizedScene:
    ag = dict(d["agents"])
    ag["token"] = ag["token"].long()
    return TokenizedScene(d["scenario_id"], AgentTokens(**ag), MapSegments(**d["map"]))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smartr1" / "tokens"


class TokenizedDataset(torch.utils.data.Dataset):
    """Scenario TFRecord shards -> cached per-scenario tokens.

    On construction every shard without a valid cache is tokenized once and written atomically to
    `cache_dir` (default: `$XDG_CACHE_HOME/smartr1/tokens`) as `<shard>.<key>.pt`, where the key hashes
    the vocabulary, the preprocessing config and the shard's path, size and mtime. Items are
    `TokenizedScene`s; a small LRU keeps recently used shards in memory.
    """

    def __init__(
        self,
        files,
        vocab: MotionVocab,
        cache_dir: Path | str | None = None,
        map_step: int | None = None,
        skip_bad: bool = False,
        keep_shards: int = 2,
    ):
        from smartr1.data.womd import expand_paths

        self.files = expand_paths(files)
        self.vocab = vocab
        self.config = preprocess_config(map_step)
        self.map_step = map_step
        self.skip_bad = skip_bad
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.key = cache_key(vocab, self.config)
        self.stats = {"hits": 0, "misses": 0, "bad_records": 0}
        self._keep = max(1, keep_shards)
        self._loaded: OrderedDict[int, list[TokenizedScene]] = OrderedDict()
        self._paths: list[Path] = []
        self._index: list[tuple[int, int]] = []
        for fi, f in enumerate(self.files):
            path, count = self._ensure(f)
            self._paths.append(path)
            self._index.extend((fi, j) for j in range(count))

    def _cache_path(self, f: Path) -> Path:
        st = f.stat()
        ident = f"{self.key}:{f.resolve()}:{st.st_size}:{st.st_mtime_ns}"
        h = hashlib.sha256(ident.encode()).hexdigest()[:16]
        return self.cache_dir / f"{f.name}.{h}.pt"

    def _ensure(self, f: Path) -> tuple[Path, int]:
        path = self._cache_path(f)
        meta = path.with_suffix(".json")
        if path.exists() and meta.exists():
            try:
                self.stats["hits"] += 1
                return path, int(json.loads(meta.read_text())["count"])
            except (ValueError, KeyError, OSError):
                self.stats["hits"] -= 1  # unreadable marker: rebuild below
        self.stats["misses"] += 1
        scenes = self._tokenize_file(f)
        buf = io.BytesIO()
        torch.save({"key": self.key, "source": str(f), "scenes": [_scene_to_dict(s) for s in scenes]}, buf)
        atomic_write_bytes(path, [buf.getvalue()])
        info = {"count": len(scenes), "source": str(f), "key": self.key, "config": self.config,
                "vocab": self.vocab.hash, "scenario_ids": [s.scenario_id for s in scenes]}  # fmt: skip
        atomic_write_bytes(meta, [json.dumps(info).encode()])
        return path, len(scenes)

    def _tokenize_file(self, f: Path) -> list[TokenizedScene]:
        from smartr1.data.tfrecord import iter_records
        from smartr1.data.womd import parse_scenario

        out = []
        with torch_threads(1):
            for i, payload in enumerate(iter_records(f, skip_bad=self.skip_bad, stats=self.stats)):
                try:
                    s = parse_scenario(payload, f, i, check=False)
                    check_usable(s, f, i)
                    out.append(prepare_scene(s, self.vocab, self.map_step))
                except DataError:
                    if not self.skip_bad:
                        raise
                    self.stats["bad_records"] += 1
        return out

    def _shard(self, fi: int) -> list[TokenizedScene]:
        if fi in self._loaded:
            self._loaded.move_to_end(fi)
            return self._loaded[fi]
        path = self._paths[fi]
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
            scenes = [_scene_from_dict(x) for x in d["scenes"]]
        except Exception as e:  # noqa: BLE001 - a damaged cache file is rebuilt, not fatal
            path.with_suffix(".json").unlink(missing_ok=True)
            self._paths[fi], _ = self._ensure(self.files[fi])
            try:
                d = torch.load(self._paths[fi], map_location="cpu", weights_only=True)
                scenes = [_scene_from_dict(x) for x in d["scenes"]]
            except Exception as e2:  # noqa: BLE001
                raise DataError(path, f"token cache unreadable after rebuild ({e2}; first error {e})") from e2
        self._loaded[fi] = scenes
        while len(self._loaded) > self._keep:
            self._loaded.popitem(last=False)
        return scenes

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> TokenizedScene:
        fi, j = self._index[i]
        return self._shard(fi)[j]
