"""Seed and demo data: administrative units, categories, units, routing, policies, users.

Also the demo batch and the notification tour, which drive reflections through the lifecycle
service like any caller. May use every capability package; nothing in the domain imports it
except the command line.
"""
