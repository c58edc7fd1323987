"""Finding leaves in a taxonomy tree and loading them with source locations."""
