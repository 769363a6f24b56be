"""Timekeeping: when each step is due.

Owns the working-time calendar (Vietnamese working days, holidays, moved days), the step
policies (allowances per category and priority), the deadlines stored on a reflection and the
sweep's reminder and escalation marks, and the escalation ladder up the administrative levels.
Pure computations over ``models`` rows; may use ``organisation`` (the hierarchy), ``models``
and ``platform``; never ``messaging``, ``lifecycle`` or ``oversight``.
"""
