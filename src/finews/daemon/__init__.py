"""`finews run`: the long-running poller (scheduler, runner, pacing, metrics)."""
