"""PLACEHOLDER — the notification dispatcher is not built yet.

It arrives with the notifications work (DESIGN.md §6): a flow run every few seconds that claims
undelivered rows of the transactional outbox (``FOR UPDATE SKIP LOCKED``), sends each through
its channel (Twilio SMS, aiosmtplib email, or the console/file channel of the embedded default)
with retries, exponential backoff and jitter, and records the outcome so nothing is sent twice.
There is no outbox table yet, so there is deliberately no flow here and no deployment for it in
``prefect.yaml`` or ``flows/deployments.py``.
"""
