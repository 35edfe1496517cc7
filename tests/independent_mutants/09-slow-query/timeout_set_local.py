"""SET LOCAL statement_timeout, then commit: a SET LOCAL ends with its transaction, so no later request has a timeout (the docstring asks for "a statement timeout that lasts for the whole session")."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET LOCAL statement_timeout = '250ms'")
    conn.commit()  # autocommit is off: a SET that is never committed is undone by the first rollback
