"""The domain's model: values and pure computations (time, schedules, timelines, uptime, reports, trends, runs' records)."""
