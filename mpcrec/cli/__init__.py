"""The ``mpcrec`` command: one module per subcommand, wired together by :mod:`.app`."""
