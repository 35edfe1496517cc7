"""Index on the bare column for an expression: lower(email) = ... cannot use an index on email."""
# expect-fail: index_turns_seq_scan_into_index_scan
# %% cell: index_for
def index_for(q: sq.SlowQuery) -> str:
    """A CREATE INDEX statement that lets PostgreSQL answer q with an index scan."""
    cols = [c.removeprefix("lower(").removesuffix(")") for c in q.equal]
    if q.range is not None:
        cols.append(q.range)
    where = f" WHERE {q.fixed}" if q.fixed else ""
    return f"CREATE INDEX ON {q.table} ({', '.join(cols)}){where}"
