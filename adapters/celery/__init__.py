"""Celery as the work queue of report runs."""
