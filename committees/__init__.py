"""Committees: sortition, rotation policy and the committee's CrypTen session."""
