"""Helpers for tritune's tests and benchmarks: small real models, process checks, a sample run store."""
