"""The readings' retention job: roll up and delete what the storage policy does not keep."""
from __future__ import annotations

import logging

from sensors import retention

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600   # seconds between prunes; each one takes what has aged past the raw window since


def prune() -> dict:
    """Apply the readings' retention policy once; return the counts."""
    done = retention.prune()
    log.info("readings pruned: %s", done.as_dict())
    return done.as_dict()
