"""The web console: server-rendered pages for citizens, staff, auditors and the public.

Pages call the same domain services and the same authorisation as the API (``api/``); only
the way callers identify themselves differs (cookies instead of headers).
"""
