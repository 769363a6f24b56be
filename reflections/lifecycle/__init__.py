"""Applying lifecycle events to stored reflections: the one place where state changes."""
