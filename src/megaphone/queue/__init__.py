"""Queueing from the command line: adding, rescheduling, removing and moving
posts, and new projects — each change checked before it is written."""
