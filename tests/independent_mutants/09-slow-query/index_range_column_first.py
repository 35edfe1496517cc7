"""Puts the range column first and the equality columns after it; "a composite index puts the equality column before the range column" (with the range first the index scan reads the whole range)."""
# expect-fail: composite_index_column_order
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    columns = ([q.range] if q.range else []) + list(q.equal)
    statement = f"CREATE INDEX ON {q.table} ({', '.join(columns)})"
    if q.fixed:
        statement += f" WHERE {q.fixed}"
    return statement
