"""Chat-platform adapters, one module per platform (WeCom: issue #3, DingTalk: issue #4)."""
