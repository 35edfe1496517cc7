"""Never finish: the solution cell spins forever (a grader without a wall-clock limit hangs)."""
while True:
    pass
