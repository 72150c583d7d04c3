"""Hazard inspection and rectification (隐患排查治理) and anonymous reports, beside the permits."""
