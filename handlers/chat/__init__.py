"""The chat door: turn neutral events (clicks, text, photos) into workflow commands and replies."""
