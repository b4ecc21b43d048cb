"""Telling people: alert rules, notifications (dashboard, webhook), the activity log."""
