"""Infrastructure that is not domain logic: the statement executor, server, caches, stores."""
