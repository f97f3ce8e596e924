"""Motion tokens (k-disk vocabularies, tokenize / detokenize) and map segments."""

from smartr1.tokens.map import SEGMENT_POINTS, LightState, MapSegments, SegmentKind, tokenize_map
from smartr1.tokens.motion import (
    AGENT_CLASSES,
    NUM_SLOTS,
    STEPS_PER_TOKEN,
    AgentTokens,
    MotionVocab,
    agent_class,
    apply_tokens,
    build_vocab,
    detokenize,
    match_tokens,
    tokenize_scenario,
)

__all__ = [
    "AGENT_CLASSES",
    "NUM_SLOTS",
    "SEGMENT_POINTS",
    "STEPS_PER_TOKEN",
    "AgentTokens",
    "LightState",
    "MapSegments",
    "MotionVocab",
    "SegmentKind",
    "agent_class",
    "apply_tokens",
    "build_vocab",
    "detokenize",
    "match_tokens",
    "tokenize_map",
    "tokenize_scenario",
]
