"""Settings: one frozen object built from the environment and validated at start-up.

Only this module knows environment variable names. Each setting is one row, declared on its field:
the variable, its parser (with the range it accepts), its default, its README section and help text.
From those rows come the field itself, ``Settings.from_env`` (which collects every problem and raises
one ``ConfigError`` listing them all) and README's configuration table (``configuration_table``, held
equal to the README by a test). Secrets are wrapped in ``Secret`` so they never show in repr, str or logs.
"""

# ruff: noqa: RUF009 - setting() returns a dataclasses.field (its row in the metadata), not a shared default
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.locales import DEFAULT_LOCALE, LOCALES
from bot.errors import ConfigError
from bot.runtime.secret import Secret

T = TypeVar("T")

SLACK_API_URL = "https://slack.com/api/"
# Credentials the embedded sandbox CRM accepts; only used when CRM_BASE_URL is unset.
SANDBOX_APP_ID = "wwsandboxcorp0001_ClueBot"
SANDBOX_APP_KEY = "sandbox-app-key-not-a-secret"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXAMPLE_CLUE_URL_TEMPLATE = "https://crm.example.com/clues/{id}"
# Alerts: the embedded SQLite file when DATABASE_URL is unset; "off" runs without alerts (and no database).
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./cluebot.db"
DATABASE_OFF = "off"
_DEFAULT_DATABASE: Secret | None = Secret(DEFAULT_DATABASE_URL)

# The card's summary: which custom fields (keys or names, in order), and which of them is the due date.
DEFAULT_SUMMARY_FIELDS = ("下次跟进时间", "预算（万元）")
DEFAULT_DUE_FIELD = "下次跟进时间"
MAX_SUMMARY_FIELDS = 5  # with the five built-in summary fields, Slack's ten per section
# clue/list-follow-up's ``type``, documented only as "类型": the vendor's example sends 0 (README: What we assume).
DEFAULT_FOLLOW_UP_TYPE = 0

SLACK_CREDENTIALS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")


class Invalid(Exception):
    """A parser's verdict on one variable: the problems, each a full sentence naming the variable."""

    def __init__(self, *problems: str) -> None:
        super().__init__(*problems)
        self.problems = problems


# (variable name, its text: stripped, never blank) -> value, or Invalid.
Parser = Callable[[str, str], T]


@dataclass(frozen=True)
class Row(Generic[T]):
    """One setting as README's configuration table shows it, and how its variable is read."""

    variable: str
    parse: Parser[T]
    section: str
    help: str
    shown_default: str | None  # the README's Default cell when the default itself would not say it


def setting(variable: str, parse: Parser[T], default: T, section: str, help: str,
            shown_default: str | None = None) -> T:
    """A ``Settings`` field read from ``variable``: its row rides in the field's metadata."""
    row = {"row": Row(variable, parse, section, help, shown_default)}
    if isinstance(default, dict):  # a mutable default: one copy per instance
        copy: Callable[[], T] = lambda: type(default)(default)  # noqa: E731
        return field(default_factory=copy, metadata=row)
    return field(default=default, metadata=row)


# ------------------------------------------------------------------ parsers


def text(name: str, raw: str) -> str:
    return raw


def secret(prefix: str = "", kind: str = "") -> Parser[Secret]:
    """A secret; with ``prefix``, one that must start with it (``kind`` says what it should be)."""
    def parse(name: str, raw: str) -> Secret:
        if not raw.startswith(prefix):
            raise Invalid(f"{name} must be {kind} starting with {prefix}")
        return Secret(raw)
    return parse


def number(kind: Callable[[str], T], low: float, high: float) -> Parser[T]:
    """A plain ASCII decimal (``int`` or ``float``) from ``low`` to ``high``."""
    pattern = _INT if kind is int else _FLOAT

    def parse(name: str, raw: str) -> T:
        # int() and float() also take "1_000", "٣", "nan" and "inf".
        if not re.fullmatch(pattern, raw, re.ASCII):
            raise Invalid(f"{name} must be a {'whole ' if kind is int else ''}number, got {raw[:40]!r}")
        value = kind(raw)
        if not low <= value <= high:  # type: ignore[operator]
            raise Invalid(f"{name} must be between {low:g} and {high:g}, got {raw[:40]!r}")
        return value
    return parse


def flag(name: str, raw: str) -> bool:
    raw = raw.lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise Invalid(f"{name} must be true or false, got {raw[:20]!r}")


def choice(options: tuple[str, ...], *, upper: bool = False) -> Parser[str]:
    def parse(name: str, raw: str) -> str:
        value = raw.upper() if upper else raw
        if value not in options:
            raise Invalid(f"{name} must be one of {', '.join(options)}")
        return value
    return parse


def http_url(example: str = "", *, trailing_slash: bool = False) -> Parser[str]:
    """An http(s) URL, trailing slashes dropped (or exactly one kept: slack_sdk needs it)."""
    def parse(name: str, raw: str) -> str:
        if not _is_http_url(raw):
            raise Invalid(f"{name} must be an http(s) URL" + (f", e.g. {example}" if example else ""))
        return raw.rstrip("/") + ("/" if trailing_slash else "")
    return parse


def time_zone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{name} {raw!r} is not a known IANA time zone") from None
    return raw


def field_aliases(name: str, raw: str) -> dict[str, str]:
    """``key=target,...``: which list-fields definition a clue/get key means."""
    aliases: dict[str, str] = {}
    problems = []
    for pair in raw.split(","):
        key, sep, target = pair.partition("=")
        if not pair.strip():
            continue
        if not sep or not key.strip() or not target.strip():
            problems.append(f"{name} entry {pair.strip()[:40]!r} must look like key=target, the target a "
                            "list-fields outerField, field id or field name (customer_stage=91634)")
            continue
        aliases[key.strip()] = target.strip()
    if problems:
        raise Invalid(*problems)
    return aliases


def url_template(name: str, raw: str) -> str:
    if raw.count("{id}") != 1 or not _is_http_url(raw.replace("{id}", "1")):
        raise Invalid(f"{name} must be an http(s) URL containing {{id}} once")
    return raw


def link_patterns(name: str, raw: str) -> tuple[str, ...]:
    """Space-separated regular expressions, each with a named group ``id``."""
    patterns = tuple(raw.split())
    problems = []
    for pattern in patterns:
        try:
            if "id" not in re.compile(pattern).groupindex:
                problems.append(f"{name} entry {pattern!r} needs a named group (?P<id>...)")
        except re.error as exc:
            problems.append(f"{name} entry {pattern!r} is not a regular expression: {exc}")
    if problems:
        raise Invalid(*problems)
    return patterns


def field_names(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated, ordered list of field keys or names; "-": none."""
    if raw == "-":
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    if len(names) > MAX_SUMMARY_FIELDS or any(len(n) > 100 for n in names):
        raise Invalid(f"{name}: at most {MAX_SUMMARY_FIELDS} names of at most 100 characters each")
    return names


def slack_ids(prefixes: str) -> Parser[frozenset[str]]:
    """A comma or space separated list of Slack ids starting with one of ``prefixes``."""
    def parse(name: str, raw: str) -> frozenset[str]:
        values = frozenset(v for v in re.split(r"[\s,]+", raw) if v)
        bad = sorted(v for v in values if not re.fullmatch(f"[{prefixes}][A-Z0-9]{{2,30}}", v))
        if bad:
            raise Invalid(f"{name} has entries that are not Slack ids: {', '.join(b[:20] for b in bad[:5])}")
        return values
    return parse


def networks(name: str, raw: str) -> tuple[str, ...]:
    """A comma or space separated list of IP addresses or CIDR networks."""
    values = tuple(v for v in re.split(r"[\s,]+", raw) if v)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise Invalid(f"{name} entry {value[:45]!r} is not an IP address or CIDR network") from None
    return values


def database_location(name: str, raw: str) -> Secret | None:
    """An SQLAlchemy database URL we have a driver for, or ``off`` (None: no database, no alerts)."""
    if raw.strip().lower() == DATABASE_OFF:
        return None
    if not re.match(r"(sqlite|postgres|postgresql)(\+\w+)?://", raw):
        raise Invalid(f"{name} must be sqlite+aiosqlite:///path/to/file.db, postgresql://user:pass@host/db or off")
    return Secret(raw)


def redis_location(name: str, raw: str) -> Secret:
    if problem := _redis_url_problem(raw):
        raise Invalid(problem)
    return Secret(raw)


_INT = r"[+-]?\d+"
_FLOAT = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
CRM, CACHE, SLACK, ACCESS, ALERTS, PROCESS = "CRM", "Cache", "Slack", "Access", "Alerts", "Process"
PUSH = "CRM push"
PEOPLE = "People"  # issue 23: links to CRM users, /clue mine, App Home
_OWN_PATHS = ("/slack/events", "/healthz", "/readyz", "/metrics")


def corp_id_of(app_id: str) -> str:
    """The corpid an appId is shaped after (``<corpid>_<suffix>``): up to its last ``_``, or all of it."""
    corp, sep, _ = app_id.rpartition("_")
    return corp if sep and corp else app_id


def push_path(name: str, raw: str) -> str:
    """A path of our own for the CRM's push: ``/`` then URL-safe characters, none of the app's other paths."""
    if not re.fullmatch(r"(/[A-Za-z0-9._~\-]+)+", raw):
        raise Invalid(f"{name} must be a path like /crm/push (letters, digits, . _ ~ - between slashes)")
    if raw in _OWN_PATHS:
        raise Invalid(f"{name} must not be one of the app's own paths ({', '.join(_OWN_PATHS)})")
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated: one ``setting`` row per variable (README's configuration table)."""

    crm_base_url: str | None = setting(
        "CRM_BASE_URL", http_url("https://account.tanmarket.cn/apiServer"), None, CRM,
        "Base URL of the Tanmarket open API, path prefix kept, e.g. `https://account.tanmarket.cn/apiServer`",
        "*(unset: embedded sandbox CRM)*")
    crm_app_id: str = setting(
        "CRM_APP_ID", text, SANDBOX_APP_ID, CRM,
        "Application id (`<corpid>_<suffix>`); required with `CRM_BASE_URL`", "sandbox id")
    crm_app_key: Secret = setting(
        "CRM_APP_KEY", secret(), Secret(SANDBOX_APP_KEY), CRM,
        "Application key (secret): signs requests, never sent; required with `CRM_BASE_URL`", "sandbox key")
    crm_timeout_seconds: float = setting(
        "CRM_TIMEOUT_SECONDS", number(float, 0.1, 60), 5.0, CRM,
        "Deadline of one CRM request (a lookup may retry once: twice this plus one second at most)")
    crm_timezone: str = setting(
        "CRM_TIMEZONE", time_zone, "Asia/Shanghai", CRM, "Zone of the CRM's zone-less time strings")
    crm_max_response_bytes: int = setting(
        "CRM_MAX_RESPONSE_BYTES", number(int, 1024, 100_000_000), 2_000_000, CRM,
        "Larger CRM answers (counted decoded, as they arrive: a gzip bomb stops at this size) are cut off and "
        "reported as a protocol error")
    crm_max_concurrency: int = setting(
        "CRM_MAX_CONCURRENCY", number(int, 1, 1000), 8, CRM, "CRM requests in flight at once, per instance")
    crm_rate_per_second: float = setting(
        "CRM_RATE_PER_SECOND", number(float, 0.1, 10_000), 20.0, CRM,
        "CRM request rate (token bucket; shared by all instances with `REDIS_URL`)")
    crm_breaker_failures: int = setting(
        "CRM_BREAKER_FAILURES", number(int, 1, 1000), 5, CRM,
        "How many different clues (or searches) must fail in a row (timeouts, connection errors, 5xx) before the "
        "circuit breaker opens: one failing clue never opens it")
    crm_breaker_cooldown_seconds: float = setting(
        "CRM_BREAKER_COOLDOWN_SECONDS", number(float, 0.1, 3600), 30.0, CRM,
        "How long an open circuit fails fast before one trial request")
    crm_reference_ttl_seconds: float = setting(
        "CRM_REFERENCE_TTL_SECONDS", number(float, 1, 7 * 86_400), 3600.0, CRM,
        "Age at which field definitions and the tag tree are refreshed")
    crm_reference_min_refresh_seconds: float = setting(
        "CRM_REFERENCE_MIN_REFRESH_SECONDS", number(float, 1, 7 * 86_400), 600.0, CRM,
        "Least time between two loads of field definitions and the tag tree: a clue with an option or tag id "
        "they do not know reloads them at most this often (one load at a time; the last good data is served "
        "meanwhile and if a load fails)")
    crm_field_aliases: dict[str, str] = setting(
        "CRM_FIELD_ALIASES", field_aliases, {}, CRM,
        "`key=target,...`: which list-fields definition a clue/get field key means, the target an "
        "`outerField`, a field id or a display name (`customer_stage=91634,customer_source=线索来源`). Rarely "
        "needed: keys are matched by `outerField`, then field id, then option id (large ids), then the CRM's "
        "display name (客户阶段, 客户来源, 购买意向, 性别…)", "*(none)*")
    crm_follow_up_type: int = setting(
        "CRM_FOLLOW_UP_TYPE", number(int, 0, 99), DEFAULT_FOLLOW_UP_TYPE, CRM,
        "The `type` sent to `clue/list-follow-up`, documented only as \"类型\": `0` as in the vendor's example "
        "(see What we assume about the real CRM); set it if your tenant's follow-ups only appear with another")
    # Cache
    clue_cache_ttl_seconds: float = setting(
        "CLUE_CACHE_TTL_SECONDS", number(float, 0, 86_400), 60.0, CACHE,
        "A clue younger than this is served from cache")
    clue_cache_maxsize: int = setting(
        "CLUE_CACHE_MAXSIZE", number(int, 1, 10_000_000), 10_000, CACHE, "Clues kept per instance")
    clue_negative_ttl_seconds: float = setting(
        "CLUE_NEGATIVE_TTL_SECONDS", number(float, 0, 86_400), 30.0, CACHE,
        "How long \"not found\" is remembered, and a failed follow-up or owner lookup (cards show at once "
        "without them meanwhile)")
    clue_revalidate_seconds: float = setting(
        "CLUE_REVALIDATE_SECONDS", number(float, 0, 86_400), 60.0, CACHE,
        "After the TTL, a clue is still served at once for this long while a background fetch refreshes it")
    clue_follow_up_ttl_seconds: float = setting(
        "CLUE_FOLLOW_UP_TTL_SECONDS", number(float, 0, 86_400), 60.0, CACHE,
        "How long a clue's follow-ups (the card's latest follow-up, the timeline pages) and its owner "
        "(customer/search) are cached, separately from the clue")
    clue_follow_up_wait_seconds: float = setting(
        "CLUE_FOLLOW_UP_WAIT_SECONDS", number(float, 0, 2), 0.5, CACHE,
        "How much longer than the clue a card waits for its latest follow-up and its owner (one wait for "
        "both); past it the card shows without them (the missing follow-up said)")
    clue_stale_seconds: float = setting(
        "CLUE_STALE_SECONDS", number(float, 0, 30 * 86_400), 86_400.0, CACHE,
        "Grace period in which an expired clue is still served (flagged) while the CRM fails")
    redis_url: Secret | None = setting(
        "REDIS_URL", redis_location, None, CACHE,
        "`redis://[:password@]host:port/db`: a cache, single-flight lock, rate limit and event dedupe shared "
        "by instances", "*(unset: in-process only)*")
    # Slack
    slack_bot_token: Secret | None = setting(
        "SLACK_BOT_TOKEN", secret("xoxb-", "a bot token"), None, SLACK,
        "Bot token `xoxb-…` (secret)", "*(unset: playground)*")
    slack_signing_secret: Secret | None = setting(
        "SLACK_SIGNING_SECRET", secret(), None, SLACK,
        "Signing secret (secret); required to serve HTTP", "*(unset: playground)*")
    slack_app_token: Secret | None = setting(
        "SLACK_APP_TOKEN", secret("xapp-", "an app-level token"), None, SLACK,
        "App-level token `xapp-…` (secret): serve over Socket Mode instead", "*(unset: HTTP)*")
    slack_api_url: str = setting(
        "SLACK_API_URL", http_url(trailing_slash=True), SLACK_API_URL, SLACK,
        "Web API base URL (tests and the playground point it at a fake Slack). A `response_url` is accepted only "
        "on `https://hooks.slack.com`, and on this URL's origin when it is not `slack.com` (where the fake Slack, "
        "or a proxy the bot token already goes through, answers)")
    slack_ack_budget_seconds: float = setting(
        "SLACK_ACK_BUDGET_SECONDS", number(float, 0, 2.5), 2.0, SLACK,
        "Everything before the `/clue` ack shares this one budget, counted from the request: Slack's "
        "`conversations.info` (at most half of it, beside the CRM) and the CRM; past it, `/clue` acks a "
        "placeholder and answers later")
    slack_body_timeout_seconds: float = setting(
        "SLACK_BODY_TIMEOUT_SECONDS", number(float, 0.1, 60), 10.0, SLACK,
        "A `/slack/events` body must arrive whole within this, or the request gets 408 and the connection is "
        "closed")
    slack_max_pending_bodies: int = setting(
        "SLACK_MAX_PENDING_BODIES", number(int, 1, 10_000), 64, SLACK,
        "Request bodies being received at once (each at most 512 KiB): body-read slots. When all are lent, the "
        "oldest loan is recalled (503 and close) for the newcomer, and `/readyz` answers 503 for 5 s "
        "(`/healthz` is not limited)")
    slack_max_pending_bodies_per_client: int = setting(
        "SLACK_MAX_PENDING_BODIES_PER_CLIENT", number(int, 1, 10_000), 16, SLACK,
        "Body-read slots one client address may hold at once; beyond it, 503 and close")
    slack_min_body_bytes_per_second: float = setting(
        "SLACK_MIN_BODY_BYTES_PER_SECOND", number(float, 1, 100_000_000), 4096.0, SLACK,
        "A body that falls behind this rate (counted from its first byte, after a 1 s grace) gets 408 and the "
        "connection is closed")
    trusted_proxies: tuple[str, ...] = setting(
        "TRUSTED_PROXIES", networks, (), SLACK,
        "Addresses or CIDR networks of your load balancers (comma-separated): from them, the client address for "
        "the per-client slot share is the nearest `X-Forwarded-For` hop that is not one of them", "*(none)*")
    clue_url_template: str = setting(
        "CLUE_URL_TEMPLATE", url_template, EXAMPLE_CLUE_URL_TEMPLATE, SLACK,
        "The CRM web page of a clue: the Open button, and the links that unfurl. The playground on the sandbox "
        "CRM, left at this default, uses the sandbox's own page (`http://127.0.0.1:<port>/clues/{id}`); "
        "serving a real workspace, `python -m bot check` fails while it is left at the example host")
    clue_url_patterns: tuple[str, ...] = setting(
        "CLUE_URL_PATTERNS", link_patterns, (), SLACK,
        "Extra link regexes (space separated), each with a `(?P<id>…)` group", "*(none)*")
    clue_max_ids: int = setting(
        "CLUE_MAX_IDS", number(int, 1, 20), 10, SLACK, "Most ids in one `/clue 8 12 40`")
    clue_summary_fields: tuple[str, ...] = setting(
        "CLUE_SUMMARY_FIELDS", field_names, DEFAULT_SUMMARY_FIELDS, SLACK,
        "Custom fields in the card's summary, by field key (list-fields id) or name, in order, at most 5; `-` "
        "for none. Everything else is behind **More details**. Example: `CLUE_SUMMARY_FIELDS=91652,意向产品`")
    clue_due_field: str | None = setting(
        "CLUE_DUE_FIELD", text, DEFAULT_DUE_FIELD, SLACK,
        "The summary's datetime field (key or name), shown on cards, previews and the Work Object as **Next "
        "follow-up** (下次跟进), relative, and \"overdue by N days\" once past")
    clue_user_rate_per_minute: int = setting(
        "CLUE_USER_RATE_PER_MINUTE", number(int, 1, 100_000), 30, SLACK, "Lookups per person per minute")
    clue_search_rate_per_minute: int = setting(
        "CLUE_SEARCH_RATE_PER_MINUTE", number(int, 1, 100_000), 10, SLACK,
        "Searches (`/clue 张三`, paging, type-ahead misses) per person per minute, a budget of their own; "
        "answers from the search cache cost nothing")
    clue_search_cache_ttl_seconds: float = setting(
        "CLUE_SEARCH_CACHE_TTL_SECONDS", number(float, 0, 3600), 30.0, SLACK,
        "A page of search results is reused this long (per normalised query and page); while the CRM fails, "
        "pages up to 10 minutes older are served, flagged")
    default_locale: str = setting(
        "CLUE_DEFAULT_LOCALE", choice(LOCALES), DEFAULT_LOCALE, SLACK,
        "`en`, `zh` (Simplified Chinese) or `zh-TW` (Traditional Chinese): link previews, and every card until "
        "a person's Slack locale is known (Slack's zh-TW and zh-HK read `zh-TW`, zh-CN `zh`); a shared card "
        "speaks its sharer's language. A Chinese-speaking team sets `zh`")
    clue_user_locale: bool = setting(
        "CLUE_USER_LOCALE", flag, True, SLACK,
        "Cards in each person's Slack language (`users.info`, scope `users:read`)")
    # Access control (empty allow list: everyone)
    slack_allowed_team_ids: frozenset[str] = setting(
        "SLACK_ALLOWED_TEAM_IDS", slack_ids("TE"), frozenset(), ACCESS,
        "Workspace (`T…`) or Enterprise org (`E…`) ids allowed to use the app; a click is checked against the "
        "clicker's own workspace (`user.team_id`), so a Slack Connect guest (or someone from another workspace "
        "of a Grid org) needs their own workspace id listed", "*(everyone)*")
    clue_allowed_user_ids: frozenset[str] = setting(
        "CLUE_ALLOWED_USER_IDS", slack_ids("UW"), frozenset(), ACCESS,
        "People allowed to look up clues", "*(everyone)*")
    clue_allowed_channel_ids: frozenset[str] = setting(
        "CLUE_ALLOWED_CHANNEL_IDS", slack_ids("CGD"), frozenset(), ACCESS,
        "Conversations where `/clue` works", "*(everywhere)*")
    clue_unfurl_channel_ids: frozenset[str] = setting(
        "CLUE_UNFURL_CHANNEL_IDS", slack_ids("CGD"), frozenset(), ACCESS,
        "Conversations where clue links unfurl", "*(everywhere)*")
    clue_allow_shared_channels: bool = setting(
        "CLUE_ALLOW_SHARED_CHANNELS", flag, False, ACCESS,
        "Unfurls and Share in Slack Connect (externally shared) channels. While `false`, a conversation Slack "
        "does not say is unshared gets neither: clicks and commands carry no flag, so the app asks "
        "`conversations.info` (cached 10 min per channel); an error or missing answer refuses, and composer "
        "previews (typed, not yet posted: Slack names no conversation) are made only when the event says the "
        "channel is not shared, which Slack's published composer event never does (see `CLUE_COMPOSER_PREVIEWS`)")
    clue_composer_previews: bool = setting(
        "CLUE_COMPOSER_PREVIEWS", flag, False, ACCESS,
        "Previews while a link is typed, before it is posted (Slack's Work Objects guide calls them the "
        "standard). The composer event names no conversation, so the message may land in a Slack Connect "
        "channel: off by default. Set `true` in a workspace that has no Slack Connect channels")
    clue_admin_contact: str = setting(
        "CLUE_ADMIN_CONTACT", text, "your Slack admin", ACCESS,
        "Who refusals tell people to ask, e.g. `<@U012ADMIN>`")
    database_url: Secret | None = setting(
        "DATABASE_URL", database_location, _DEFAULT_DATABASE, ALERTS,
        "The alerts database (secret: may hold a password): an SQLite file (path after `///`, relative to the "
        "working directory), or PostgreSQL (`postgresql://user:pass@host:5432/db`, driven by asyncpg) for several "
        "instances; `off` runs without alerts. Migrated at start-up", f"`{DEFAULT_DATABASE_URL}`")
    clue_subscribe_user_ids: frozenset[str] = setting(
        "CLUE_SUBSCRIBE_USER_IDS", slack_ids("UW"), frozenset(), ALERTS,
        "People allowed to `/clue subscribe` a channel (listing and unsubscribing follow the lookup rules)",
        "*(whoever may look up)*")
    clue_alert_poll_seconds: float = setting(
        "CLUE_ALERT_POLL_SECONDS", number(float, 0.1, 3600), 10.0, ALERTS,
        "How often the CRM is asked for new clues (one instance of a fleet asks: the lease holder)")
    clue_alert_lookback_seconds: float = setting(
        "CLUE_ALERT_LOOKBACK_SECONDS", number(float, 0, 86_400), 120.0, ALERTS,
        "Each poll re-reads this far behind its high-water mark, for clues the CRM lists late (already alerted "
        "ones are skipped)")
    clue_alert_max_pages: int = setting(
        "CLUE_ALERT_MAX_PAGES", number(int, 1, 10_000), 100, ALERTS,
        "CRM pages (of 100 clues) one poll reads at most; the rest follows in the next poll")
    clue_alert_digest_over: int = setting(
        "CLUE_ALERT_DIGEST_OVER", number(int, 1, 1000), 5, ALERTS,
        "More new clues than this for one channel in one round (a burst, a catch-up after downtime) come as one "
        "digest message")
    clue_alert_post_interval_seconds: float = setting(
        "CLUE_ALERT_POST_INTERVAL_SECONDS", number(float, 0, 60), 1.0, ALERTS,
        "Least time between two posts to one channel (Slack allows about one message per second per channel)")
    clue_alert_lease_seconds: float = setting(
        "CLUE_ALERT_LEASE_SECONDS", number(float, 1, 3600), 30.0, ALERTS,
        "The poller's lease: when its holder dies, another instance takes over within this plus one poll "
        "interval")
    # watches (issue 22 item 3)
    clue_watch_check_seconds: float = setting(
        "CLUE_WATCH_CHECK_SECONDS", number(float, 1, 86_400), 300.0, ALERTS,
        "How often each watched clue (`/clue watch 8`) is read again for changes (by the poller, through the "
        "card cache: a clue looked at lately costs no CRM call)")
    clue_watch_reads_per_round: int = setting(
        "CLUE_WATCH_READS_PER_ROUND", number(int, 3, 10_000), 30, ALERTS,
        "CRM reads the watch checks of one poll round may make at most (three a clue: itself, its owner, its "
        "follow-ups), the longest unchecked first: the rest of the CRM budget is left to lookups")
    # CRM push
    crm_push_enabled: bool = setting(
        "CRM_PUSH_ENABLED", flag, False, PUSH,
        "Receive the CRM's webhook push at `CRM_PUSH_PATH` (register it with `python -m bot push-register "
        "<https-url>`): a push naming a clue makes the next card read the CRM at once. Off: that path is 404. "
        "A hint only: cards and alerts work without it")
    crm_push_path: str = setting(
        "CRM_PUSH_PATH", push_path, "/crm/push", PUSH,
        "Path of the push receiver (what the public URL you register ends with)")
    crm_push_window_seconds: float = setting(
        "CRM_PUSH_WINDOW_SECONDS", number(float, 1, 3600), 300.0, PUSH,
        "A push whose `timestamp` is further than this from our clock is refused (401); a replay within twice "
        "this is answered but processed once (shared by instances with `REDIS_URL`)")
    crm_corp_id: str | None = setting(
        "CRM_CORP_ID", text, None, PUSH,
        "The corpid a push's body is decrypted with (its IV): the vendor pairs an appId with its corpid, "
        "which is the appId up to its last `_` unless your tenant says otherwise",
        "*(`CRM_APP_ID` up to its last `_`)*")
    # people (issue 23): who may link someone else to a CRM user
    clue_admin_user_ids: frozenset[str] = setting(
        "CLUE_ADMIN_USER_IDS", slack_ids("UW"), frozenset(), PEOPLE,
        "People who may `/clue link @person <salesId>` (link someone else to their CRM user; each such link is an "
        "audit line)", "*(nobody)*")
    clue_nudge_window_minutes: int = setting(
        "CLUE_NUDGE_WINDOW_MINUTES", number(int, 1, 720), 120, PEOPLE,
        "A morning nudge not sent within this long after the person's chosen time (the app was down) is dropped, "
        "not sent late")
    # Process
    host: str = setting("HOST", text, "127.0.0.1", PROCESS, "Bind address (`Procfile` binds `0.0.0.0`)")
    port: int = setting("PORT", number(int, 0, 65_535), 3000, PROCESS, "HTTP port")
    web_concurrency: int = setting(
        "WEB_CONCURRENCY", number(int, 1, 64), 1, PROCESS,
        "Worker processes serving HTTP, sharing the port (Procfile hosts set it; `--workers` overrides it). "
        "Each worker has its own in-process cache and `/metrics`: with more than one, set `REDIS_URL` so they "
        "share the cache (one CRM call per clue), CRM rate limit, event dedupe and each person's limits; "
        "without it each worker enforces its share of each person's limits (the limit / workers) and says so "
        "at start-up (`ratelimit.people.per_worker`). The playground always runs one")
    metrics_allowed_networks: tuple[str, ...] = setting(
        "METRICS_ALLOWED_NETWORKS", networks, ("127.0.0.0/8", "::1"), PROCESS,
        "Who may read `/metrics` (addresses or CIDR networks, comma-separated; the client address as "
        "`TRUSTED_PROXIES` reads it): everyone else gets 404, so binding `0.0.0.0` publishes no metrics. Add "
        "your Prometheus host's network, e.g. `127.0.0.0/8,::1,10.0.0.0/8`")
    log_level: str = setting(
        "LOG_LEVEL", choice(LOG_LEVELS, upper=True), "INFO", PROCESS,
        "`DEBUG`, `INFO`, `WARNING` or `ERROR`; logs are JSON lines with secrets and phones redacted")

    @property
    def uses_sandbox_crm(self) -> bool:
        return self.crm_base_url is None

    @property
    def playground(self) -> bool:
        """No Slack credentials: serve the local playground with a fake Slack Web API."""
        return self.slack_bot_token is None and self.slack_app_token is None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def corp_id(self) -> str:
        """The corpid push bodies are decrypted with: ``CRM_CORP_ID``, else the appId up to its last ``_``."""
        return self.crm_corp_id if self.crm_corp_id is not None else corp_id_of(self.crm_app_id)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.crm_timezone)

    def secrets(self) -> list[str]:
        """Every secret value, for the log redaction filter."""
        values = [self.crm_app_key, self.slack_bot_token, self.slack_signing_secret, self.slack_app_token]
        out = [s.reveal() for s in values if s]
        for url in (self.redis_url, self.database_url):
            password = _url_password(url.reveal()) if url else None
            if password:
                out.append(password)
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, serve: bool = False) -> Settings:
        """Build settings from an environment mapping; raise one ConfigError listing every problem.

        ``serve``: for ``python -m bot serve``, which serves a Slack workspace only from a real CRM."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        given: set[str] = set()
        for name, row in _rows(cls):
            raw = env.get(row.variable, "").strip()
            if not raw:  # blank counts as unset
                continue
            given.add(row.variable)
            try:
                values[name] = row.parse(row.variable, raw)
            except Invalid as exc:
                problems += exc.problems
        problems += _missing_companions(given, serve)
        if problems:
            raise ConfigError(problems)
        return cls(**values)


def _rows(cls: type[Settings] = Settings) -> Iterator[tuple[str, Row[Any]]]:
    """``(field name, row)`` of every setting, in declaration order."""
    for f in fields(cls):
        yield f.name, f.metadata["row"]


def rows() -> list[Row[Any]]:
    """Every setting's row, in README order."""
    return [row for _, row in _rows()]


def _missing_companions(given: set[str], serve: bool) -> list[str]:
    """Variables that only work together: what is missing, by which variables were set."""
    problems = []
    if "CRM_BASE_URL" in given:
        problems += [f"{name} is required when CRM_BASE_URL is set" for name in ("CRM_APP_ID", "CRM_APP_KEY")
                     if name not in given]
    elif given & {"CRM_APP_ID", "CRM_APP_KEY"}:
        # Without a base URL the embedded sandbox CRM answers, and it refuses real credentials.
        problems.append("CRM_BASE_URL is required when CRM_APP_ID or CRM_APP_KEY is set")
    bot_token, signing_secret, app_token = (name in given for name in SLACK_CREDENTIALS)
    if app_token and not bot_token:
        problems.append("SLACK_BOT_TOKEN is required with SLACK_APP_TOKEN (Socket Mode)")
    if bot_token and not app_token and not signing_secret:
        problems.append("SLACK_SIGNING_SECRET is required to serve Slack over HTTP")
    if signing_secret and not bot_token:
        problems.append("SLACK_BOT_TOKEN is required when SLACK_SIGNING_SECRET is set")
    if serve and (bot_token or app_token) and "CRM_BASE_URL" not in given:
        problems.append("CRM_BASE_URL is required to serve Slack (the sandbox CRM is only for the playground): "
                        "set CRM_BASE_URL, CRM_APP_ID and CRM_APP_KEY, or unset the Slack credentials")
    return problems


def without_slack_credentials(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """``env`` for the playground (which fakes Slack), and the Slack credentials it leaves out."""
    ignored = [name for name in SLACK_CREDENTIALS if env.get(name, "").strip()]
    return {k: v for k, v in env.items() if k not in SLACK_CREDENTIALS}, ignored


def configuration_table() -> str:
    """README's configuration table, from the rows."""
    lines = ["| Variable | Default | What it does |", "|---|---|---|"]
    section = None
    for f in fields(Settings):
        row = f.metadata["row"]
        if row.section != section:
            section = row.section
            lines.append(f"| **{section}** | | |")
        default = row.shown_default or f"`{_shown(f.default_factory() if callable(f.default_factory) else f.default)}`"
        lines.append(f"| `{row.variable}` | {default} | {row.help} |")
    return "\n".join(lines)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:  # e.g. an unbalanced IPv6 bracket: "http://[::1"
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _redis_url_problem(url: str) -> str | None:
    """Why ``REDIS_URL`` cannot be used, or None. Never echoes the value: it may hold a password."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError:
        return "REDIS_URL has an invalid host or port (a port is 1-65535)"
    if parts.scheme not in ("redis", "rediss", "unix"):
        return "REDIS_URL must start with redis://, rediss:// or unix://"
    if parts.scheme == "unix":
        return None if parts.path else "REDIS_URL unix:// needs the socket's path"
    if port == 0:
        return "REDIS_URL has an invalid host or port (a port is 1-65535)"
    db = parts.path.strip("/")
    if db and not (db.isascii() and db.isdigit()):
        return "REDIS_URL's path must be a database number, as in redis://host:6379/0"
    return None
