"""stale_moments off by one: it reports the step after the one that made the cache stale."""
# expect-fail: stale_moments_cache_aside
# expect-fail: stale_moments_transactions_and_replicas
# expect-fail: draw_race_marks_stale_moment
# %% cell: stale_moments
def stale_moments(schedule: list[tuple[str, str]]) -> list[int]:
    db, replica, cache, fresh = 0, 0, None, 0
    pending: dict[str, int | None] = {}
    holds: dict[str, int] = {}
    moments: list[int] = []
    was_stale = False
    for i, (actor, action) in enumerate(schedule):
        if action == "read_cache":
            if cache is not None:
                holds[actor] = cache
        elif action == "read_db":
            own = pending.get(actor)
            holds[actor] = db if own is None else own
        elif action == "read_replica":
            holds[actor] = replica
        elif action == "write_db":
            fresh += 1
            holds[actor] = fresh
            if actor in pending:
                pending[actor] = fresh
            else:
                db = fresh
        elif action == "begin":
            pending[actor] = None
        elif action == "commit":
            value = pending.pop(actor)
            if value is not None:
                db = value
        elif action == "rollback":
            pending.pop(actor)
        elif action == "set_cache":
            cache = holds[actor]
        elif action == "delete_cache":
            cache = None
        elif action == "replicate":
            replica = db
        stale = cache is not None and cache != db
        if stale and not was_stale:
            moments.append(i + 1)  # the bug: one step late
        was_stale = stale
    return moments
