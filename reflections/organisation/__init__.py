"""Organisation: the city's units and the people in them.

Owns the administrative hierarchy (any depth), routing of a category to a handling unit,
staff users and their memberships, authentication of staff and service clients (with the
log-in throttle, password rules and sessions that end), and
visibility (which reflections each role sees, and how much of the reporter). Uses only
``models`` and ``platform``.
"""
