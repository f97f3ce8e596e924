"""The browser viewer: one self-contained HTML file of scenes, rollouts and per-agent diagnostics."""
