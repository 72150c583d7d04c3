"""Local stand-ins of the WeCom and DingTalk servers for the demo and the tests."""
