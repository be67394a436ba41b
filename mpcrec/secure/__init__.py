"""Secure aggregation: fixed-point codec, sharing, sealing, the committee's MPC program, DP."""
