"""Load benchmarks of the ehealth-auth service against a hand-written floor (bench.run)."""
