"""rq jobs and the scheduler that enqueues the periodic ones."""
