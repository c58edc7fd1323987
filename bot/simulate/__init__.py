"""`bot simulate`: the whole contributor -> maintainer -> release lifecycle, played locally
against the GitHub emulator and a bare git repository (docs/release.md)."""
