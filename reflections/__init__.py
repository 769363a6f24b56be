"""Reflections: the domain core of a city's citizen-feedback workflow engine.

Everything that decides what happens to a reflection lives here; `api/`, `flows/` and
`notifications/` drive it from outside and are never imported by it.
"""
