"""Real Maven and Ivy code, run in a JVM, as oracles for the version tests."""
