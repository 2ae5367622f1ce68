"""Property addresses that jobs are raised against (table in ``propops.jobs.models``)."""
