"""Turns the fixed predicate into a leading key column (status, then the compared columns) instead of a WHERE clause: a full-size index, not "a small partial index" as required for a fixed predicate."""
# expect-fail: partial_index_for_fixed_predicate
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    columns = list(q.equal) + ([q.range] if q.range else [])
    if q.fixed:
        columns.insert(0, q.fixed.split()[0])  # the predicate's column goes first
    statement = f"CREATE INDEX ON {q.table} ({', '.join(columns)})"
    return statement
