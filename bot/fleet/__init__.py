"""Fleet state in Redis, shared by every instance of the app (optional: REDIS_URL)."""
