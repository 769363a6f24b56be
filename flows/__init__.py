"""Prefect flows: stateless drivers (deadline sweep, auto-confirm, digests, notification
dispatch) that call the same domain services as the API."""
