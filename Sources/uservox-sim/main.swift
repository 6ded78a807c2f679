print("uservox-sim: not yet")
