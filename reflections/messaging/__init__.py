"""Messaging: who is told what, and getting it delivered exactly once per outbox row.

Owns the transactional outbox (which messages an event causes, to whom, in which language),
the dispatcher that delivers them with leases, retries and backoff, the channels built from
settings, contact normalisation, notification preferences, quiet hours, Twilio delivery
statuses, dead letters, the morning digest, and what reaches a citizen's contact (the stop
link, proven contacts, the unproven contacts' daily cap). Renders through ``notifications``
(channels and templates, which know nothing of reflections); may use ``timekeeping`` (due
dates in messages), ``organisation``, ``models`` and ``platform``; never ``lifecycle`` or
``oversight``.
"""
