"""`make bench`: figures of merit measured as ratios in one run (see bench/bench.py)."""
