"""Cache policy: what is served from memory (and Redis), for how long, and what happens when the CRM fails."""
