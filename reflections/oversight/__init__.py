"""Oversight: what auditors, leaders and the public read about the process.

Owns tamper evidence (hash-chain verification and hourly anchors), the personal-data access
log, reports in SQL per unit, level, category and month, streamed exports, and the public feed
of results. Reads lifecycle state and history (``lifecycle``, ``models``) and writes only its
own tables (anchors, access log); never changes a reflection.
"""
