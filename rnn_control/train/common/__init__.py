"""What every trainer shares: checkpoints, the metrics log, progress reporting, the result."""
