"""The token cache: scenario shards tokenized once, keyed by vocabulary and preprocessing.

Tokenizing is done once per scenario and cached per TFRecord shard, keyed by the vocabulary hash and
the preprocessing config (and the shard's size and mtime); a change to either writes a new cache file.
The cache also holds which agents carry a training loss (`smartr1.training.loss_agents`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from collections import OrderedDict
from pathlib import Path

import torch

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError
from smartr1.data.tfrecord import iter_records
from smartr1.data.threads import torch_threads
from smartr1.data.timeline import NUM_SLOTS
from smartr1.data.womd import expand_paths, parse_scenario
from smartr1.tokens.map import SEGMENT_POINTS, MapSegments
from smartr1.tokens.scene import TokenizedScene, check_usable, prepare_scene
from smartr1.tokens.tokenize import AgentTokens
from smartr1.tokens.vocabulary import MotionVocab
from smartr1.training.loss_agents import TRAIN_MAX_NEARBY, TRAIN_MIN_FUTURE_SLOTS, TRAIN_RADIUS, train_agents

# Bump when tokenization, map segmentation or the loss-agent choice changes what lands in the cache.
PREPROCESS_VERSION = 3


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
    return {"scenario_id": scene.scenario_id, "agents": ag, "map": mp, "train_mask": scene.train_mask}


def _scene_from_dict(d: dict) -> TokenizedScene:
    ag = dict(d["agents"])
    ag["token"] = ag["token"].long()
    return TokenizedScene(d["scenario_id"], AgentTokens(**ag), MapSegments(**d["map"]), d["train_mask"])


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smartr1" / "tokens"


class TokenizedDataset(torch.utils.data.Dataset):
    """Scenario TFRecord shards -> cached per-scenario tokens.

    On construction every shard without a valid cache is tokenized once and written atomically to
    `cache_dir` (default: `$XDG_CACHE_HOME/smartr1/tokens`) as `<shard>.<key>.pt`, where the key hashes
    the vocabulary, the preprocessing config and the shard's path, size and mtime. Items are
    `TokenizedScene`s; an LRU keeps recently used shards in memory, up to `keep_bytes` of cache files
    (training draws scenes in random order, so a dataset that fits is read from disk once per run, and a
    larger one costs one shard read per scene at worst).
    """

    def __init__(
        self,
        files,
        vocab: MotionVocab,
        cache_dir: Path | str | None = None,
        map_step: int | None = None,
        skip_bad: bool = False,
        keep_bytes: int = 2 << 30,
    ):
        self.files = expand_paths(files)
        self.vocab = vocab
        self.config = preprocess_config(map_step)
        self.map_step = map_step
        self.skip_bad = skip_bad
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.key = cache_key(vocab, self.config)
        self.stats = {"hits": 0, "misses": 0, "bad_records": 0}
        self._keep_bytes = keep_bytes
        self._bytes: dict[int, int] = {}
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
        out = []
        with torch_threads(1):
            for i, payload in enumerate(iter_records(f, skip_bad=self.skip_bad, stats=self.stats)):
                try:
                    s = parse_scenario(payload, f, i, check=False)
                    check_usable(s, f, i)
                    scene = prepare_scene(s, self.vocab, self.map_step)
                    loss = train_agents(s, scene.agents.sim_mask, scene.agents.valid)
                    out.append(scene._replace(train_mask=loss))
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
        self._bytes[fi] = self._paths[fi].stat().st_size
        while len(self._loaded) > 1 and sum(self._bytes[k] for k in self._loaded) > self._keep_bytes:
            self._loaded.popitem(last=False)
        return scenes

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> TokenizedScene:
        fi, j = self._index[i]
        return self._shard(fi)[j]
