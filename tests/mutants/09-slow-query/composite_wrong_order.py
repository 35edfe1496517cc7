"""Composite index in the wrong order: the range column first, then the equality column, so the
scan walks every entry in the range and throws most of them away."""
# expect-fail: composite_index_column_order
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    cols = [f"({c})" if "(" in c else c for c in q.equal]
    if q.range is not None:
        cols.insert(0, q.range)
    where = f" WHERE {q.fixed}" if q.fixed else ""
    return f"CREATE INDEX ON {q.table} ({', '.join(cols)}){where}"
