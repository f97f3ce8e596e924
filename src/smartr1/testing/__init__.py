"""Fixtures shared by the tests and the benchmarks: synthetic scenes with numbers you can check.

`scenes` (hand-made scenarios for the metric, a dense 256-agent scene), `tracks` (smooth synthetic
tracks on a toy map, for tokenizers and models), `batches` (random token batches and arc vocabularies,
for the model and rollouts).
"""
