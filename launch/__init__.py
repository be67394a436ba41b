"""The launcher: round state machine, gRPC service, persistent store, live view."""
