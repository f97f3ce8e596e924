"""Per-shard jobs (evaluation, simulation, token-cache preparation) that run in this process or spread
over a Ray cluster (`pip install smartr1[ray]`), with per-shard results written atomically, reruns
skipping shards already done, and the dataset result reduced from the shards in a fixed order, so
that the distributed result equals the single-process one exactly."""
