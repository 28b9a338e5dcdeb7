"""Sinks: where the hub hands every record (files, the local socket, NATS)."""
