"""Runtime types shared by the launcher and the nodes: TLS, the wire, models, plain updates."""
