"""The tables, as SQLAlchemy Core metadata: what migrations create and every query names.

Times are epoch seconds (floats) so SQLite and PostgreSQL compare them alike; a clue's CRM ``createTime``
is kept as the CRM's own text (``YYYY-MM-DD HH:MM:SS``, which sorts as it reads).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row per /clue subscribe: alerts for new clues matching ``filters`` (JSON) go into ``channel_id``.
subscriptions = Table(
    "subscriptions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False, index=True),
    Column("filters", Text, nullable=False, default="{}"),
    Column("created_by", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    # Set when Slack said the channel cannot be posted to (not_in_channel, channel_not_found, is_archived):
    # no more alerts until someone subscribes again.
    Column("disabled_reason", String(64), nullable=True),
)

# A watched clue in a channel (issue 22 item 3): the fingerprint of what its card shows, re-read on a schedule.
watches = Table(
    "watches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("clue_id", BigInteger, nullable=False),
    Column("created_by", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("thread_ts", String(32), nullable=True),  # the alert or card to reply under
    Column("fingerprint", String(64), nullable=True),
    Column("checked_at", Float, nullable=True),
    UniqueConstraint("channel_id", "clue_id", name="uq_watches_channel_clue"),
)

# Named cursors; ``new_clues`` is the high-water mark of the new-clue poll (a CRM createTime).
poll_state = Table(
    "poll_state", metadata,
    Column("name", String(32), primary_key=True),
    Column("high_water", String(32), nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Every new clue the poller has taken in, with what it knew of it (a resolved Clue's JSON, or a stub):
# ``since`` is inclusive and polls look back for late arrivals, so a clue is seen many times, taken once.
seen_clues = Table(
    "seen_clues", metadata,
    Column("clue_id", BigInteger, primary_key=True),
    Column("create_time", String(32), nullable=True),
    Column("clue_json", Text, nullable=False),
    Column("seen_at", Float, nullable=False),
)

# One row per (subscription, clue, event), written before posting; ``posted`` with Slack's ts after.
deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("clue_id", BigInteger, nullable=False),
    Column("event", String(16), nullable=False),  # "created" (a new clue); "changed" for watches
    Column("state", String(16), nullable=False, default="pending", index=True),  # pending | posted | dropped
    Column("attempts", Integer, nullable=False, default=0),  # posts tried: above 0 a crash may have posted it
    Column("message_ts", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("posted_at", Float, nullable=True),
    UniqueConstraint("subscription_id", "clue_id", "event", name="uq_deliveries_subscription_clue_event"),
)

# Who runs the poller: one row per lease, taken when free or expired, renewed by its holder.
leases = Table(
    "leases", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
)

# watches (issue 22 item 3, migration 0002_watches) ------------------------------------------------------
# What the fingerprint was taken of (JSON, read by bot.domain.changes), to say "old → new" when it changes;
# and, as for subscriptions, why Slack refused the channel (no more checks until someone watches again).
watches.append_column(Column("snapshot", Text, nullable=True))
watches.append_column(Column("disabled_reason", String(64), nullable=True))

# One row per change found on a watched clue, written with the watch's new fingerprint in one transaction
# before the reply is posted; ``posted`` with Slack's ts after (the protocol of ``deliveries``).
watch_changes = Table(
    "watch_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("watch_id", Integer, ForeignKey("watches.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("channel_id", String(32), nullable=False),
    Column("clue_id", BigInteger, nullable=False),
    Column("before", Text, nullable=False),  # the snapshot the watch held
    Column("after", Text, nullable=False),  # the snapshot that replaced it
    Column("state", String(16), nullable=False, default="pending", index=True),  # pending | posted | dropped
    Column("attempts", Integer, nullable=False, default=0),
    Column("message_ts", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("posted_at", Float, nullable=True),
)

# people (issue 23) ------------------------------------------------------------------------------------------
# A Slack person linked to their CRM user (``sales_id``), confirmed by the person (``how`` "confirmed") or set
# by an admin ("admin", ``linked_by`` the admin); their morning nudge: ``nudge_at`` "HH:MM" in ``tz`` (None:
# off), and ``nudged_through`` the wall time the last nudge covered (its "new since" starts there).
people = Table(
    "people", metadata,
    Column("user_id", String(32), primary_key=True),
    Column("team_id", String(32), nullable=False),
    Column("sales_id", String(64), nullable=False, index=True),
    Column("crm_name", String(128), nullable=False),
    Column("how", String(16), nullable=False),
    Column("linked_by", String(32), nullable=False),
    Column("linked_at", Float, nullable=False),
    Column("nudge_at", String(5), nullable=True),
    Column("tz", String(64), nullable=True),
    Column("nudged_through", Float, nullable=True),
)

# One row per (person, local day) nudge, written before posting, ``posted`` after: once per day across a fleet.
nudges = Table(
    "nudges", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(32), nullable=False),
    Column("day", String(10), nullable=False),  # the person's local date, YYYY-MM-DD
    Column("state", String(16), nullable=False),  # pending | posted | dropped | empty
    Column("created_at", Float, nullable=False),
    Column("posted_at", Float, nullable=True),
    UniqueConstraint("user_id", "day", name="uq_nudges_user_day"),
)

# One row per (person, clue) "assigned to you" direct message, written before posting: each is sent once.
assignments = Table(
    "assignments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(32), nullable=False),
    Column("clue_id", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # pending | posted
    Column("created_at", Float, nullable=False),
    UniqueConstraint("user_id", "clue_id", name="uq_assignments_user_clue"),
)

# Home's language choice (issues 22/23 settings): "en" | "zh" | "zh-TW" on the person's row; NULL: Slack's own.
people.append_column(Column("locale", String(8), nullable=True))
