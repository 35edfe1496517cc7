"""Indexes only the equality columns and leaves the range column out, so the composite query reads every row of the equality match; a composite query needs "the equality column before the range column" in the index."""
# expect-fail: composite_index_column_order
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    columns = list(q.equal) or [q.range]  # equality is what makes an index selective
    statement = f"CREATE INDEX ON {q.table} ({', '.join(columns)})"
    if q.fixed:
        statement += f" WHERE {q.fixed}"
    return statement
