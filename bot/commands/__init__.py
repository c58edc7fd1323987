"""One module per `bot` subcommand, each with `register(subparsers)` and `run(args) -> int`."""
