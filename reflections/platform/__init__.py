"""Platform: what every capability stands on, with no knowledge of reflections.

Owns the typed settings, database engines and sessions, the one clock, row leases for workers,
schema migrations, password and secret hashing, and ``reflections serve`` (the embedded
default's processes). Imports nothing of the domain.
"""
