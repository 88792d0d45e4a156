"""The alerts database: subscriptions, the poll cursor, every delivery and the poller's lease, in SQL.

SQLAlchemy 2's asyncio engine over an embedded SQLite file (aiosqlite) by default, or PostgreSQL
(asyncpg) for a fleet; one schema, migrated by Alembic (``bot/store/migrations``). Nothing here knows
Slack or the CRM: rows in, rows out.
"""
