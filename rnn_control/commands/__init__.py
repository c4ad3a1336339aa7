"""One module per ``rnn-control`` subcommand: ``add_arguments(parser)`` and ``run(args)``."""
