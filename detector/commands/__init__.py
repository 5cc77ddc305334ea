"""One module per ``swapwatch`` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``.

Subcommand modules stay thin: they parse arguments, load the typed configuration and call
the stage that does the work.
"""
