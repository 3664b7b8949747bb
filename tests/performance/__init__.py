"""Load test (`make load`) and the smoke test that keeps it and `make bench` from rotting."""
