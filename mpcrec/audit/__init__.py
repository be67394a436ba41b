"""The signed, append-only audit log and its verifier."""
