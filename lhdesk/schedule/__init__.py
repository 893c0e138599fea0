"""Workstation schedules: store, due-time logic and runner. No Qt."""
