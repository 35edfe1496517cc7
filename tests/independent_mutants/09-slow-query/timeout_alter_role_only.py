"""ALTER ROLE CURRENT_USER SET statement_timeout: it only applies to sessions opened later, not to this connection (and changes the role for everybody); the session given must get the timeout."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("ALTER ROLE CURRENT_USER SET statement_timeout = '250ms'")
    conn.commit()  # autocommit is off: a SET that is never committed is undone by the first rollback
