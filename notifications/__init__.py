"""Channels (SMS, email, console) and message templates; knows nothing of reflections."""
