"""Lifecycle: the one place where a reflection's state changes.

Owns intake (submission, tracking codes, photos), the service that applies every event (role
and unit check, the chart in ``statemachines``, one hash-chained history row, the outbox
messages, the step record, one commit), permissions, duplicates and merging, the lists people
work from, and the time-driven events the sweeps fire (reminders, escalation, auto-confirm).
May use ``timekeeping`` (deadlines), ``messaging`` (enqueueing), ``organisation``, ``models``,
``platform`` and ``statemachines``; never ``oversight``, ``api``, ``web`` or ``flows``.
"""
