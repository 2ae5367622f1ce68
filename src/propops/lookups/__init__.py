"""The shared lookups: priorities, job types, job statuses and trades."""
