"""The GitHub bot: events, sticky comments, check runs, commands and the trust gate.

Imported only by `bot gh` (never on the `bot validate` path). Each module has one
job; docs/github.md describes the whole.
"""
