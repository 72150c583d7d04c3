"""Neutral step cards and their WeCom / DingTalk renderers."""
