"""Pictures of scenarios and rollouts: PNG stills and GIF / MP4 animations (headless, matplotlib Agg)."""

from smartr1.viz.render import iter_frames, render_rollouts_gif, render_scenario_png

__all__ = ["iter_frames", "render_rollouts_gif", "render_scenario_png"]
