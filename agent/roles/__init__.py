"""Earned LLM roles: every place the LLM may act, its deterministic stand-in, how it is measured, and
the card that says which roles the configured model earned (see :mod:`agent.roles.calibrate`)."""
