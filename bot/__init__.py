"""Chat-platform adapters, one module per platform, and the channels that deliver through them."""
