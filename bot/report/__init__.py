"""Render a validation Report as text (people), JSON (machines) or GitHub workflow commands."""
