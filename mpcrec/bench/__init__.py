"""Benchmarks: each prints a table and writes JSON (results committed under docs/benchmarks/)."""
