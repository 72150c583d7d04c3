"""Neutral step cards and their WeCom / DingTalk renderers (issues #3, #4)."""
