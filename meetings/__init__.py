"""The pre-shift meeting (班前会): held by a crew leader from a card, attended after a scan at its place."""
