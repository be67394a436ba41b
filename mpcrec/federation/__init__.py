"""Runtime types shared by the launcher and the nodes: TLS, models, plain updates, the round
announcements, registrations, contributions and results they exchange, the refusals, and
the launcher-client interface (:mod:`mpcrec.federation.launcher_client`) both sides name."""
