"""Borrowed answer: stale_moments calls the grader's private model instead of working it out."""
# expect-fail: stale_moments_cache_aside
# expect-fail: stale_moments_transactions_and_replicas
# %% cell: stale_moments
from gotchalab.caching import _truth_stale_moments as _model


def stale_moments(schedule):
    return _model(schedule)
