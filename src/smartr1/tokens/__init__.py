"""Motion tokens (vocabularies, tokenize / detokenize), map segments, tokenized scenes and batches.

Modules, in the order a scenario flows through them: `cleaning` (flip-free, gap-filled tracks),
`vocabulary` / `vocab_build` / `kdisk` (what a token is, and building a vocabulary), `matching`
(which token moves a box where), `tokenize` (tracks <-> tokens), `map` (map segments), `scene`
(one tokenized scenario), `batch` (padded `TokenBatch` of `AgentBatch` and `MapBatch`), `quality`
(what a vocabulary loses).
"""
