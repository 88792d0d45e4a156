"""Settings: one frozen object built from the environment and validated at start-up.

Only this module knows environment variable names. ``Settings.from_env`` collects every problem
and raises one ``ConfigError`` listing them all. Secrets are wrapped in ``Secret`` so they never
show in repr, str or logs.

Its size: one validated reader per setting; splitting the table would scatter the one list of settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
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
# Alerts: the embedded SQLite file when DATABASE_URL is unset; "off" runs without alerts (and no database).
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./cluebot.db"
DATABASE_OFF = "off"


# The card's summary: which custom fields (keys or names, in order), and which of them is the due date.
DEFAULT_SUMMARY_FIELDS = ("下次跟进时间", "预算（万元）")
DEFAULT_DUE_FIELD = "下次跟进时间"
MAX_SUMMARY_FIELDS = 5  # with the five built-in summary fields, Slack's ten per section

@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated. See README's configuration table."""

    # CRM
    crm_base_url: str | None = None  # None: start the embedded sandbox CRM
    crm_app_id: str = SANDBOX_APP_ID
    crm_app_key: Secret = field(default_factory=lambda: Secret(SANDBOX_APP_KEY))
    crm_timeout_seconds: float = 5.0
    crm_timezone: str = "Asia/Shanghai"
    crm_max_response_bytes: int = 2_000_000
    crm_max_concurrency: int = 8
    crm_rate_per_second: float = 20.0
    crm_breaker_failures: int = 5
    crm_breaker_cooldown_seconds: float = 30.0
    crm_reference_ttl_seconds: float = 3600.0
    crm_reference_min_refresh_seconds: float = 600.0  # an unknown option or tag id reloads no more often
    # clue/get key -> a list-fields outerField, field id or display name
    crm_field_aliases: dict[str, str] = field(default_factory=dict)
    # Cache
    clue_cache_ttl_seconds: float = 60.0
    clue_cache_maxsize: int = 10_000
    clue_negative_ttl_seconds: float = 30.0
    clue_stale_seconds: float = 86_400.0
    clue_revalidate_seconds: float = 60.0  # past the TTL: still served at once, refreshed in the background
    clue_follow_up_ttl_seconds: float = 60.0  # the follow-up lookup's own cache entry
    clue_follow_up_wait_seconds: float = 0.5  # how long a card waits for its latest follow-up
    redis_url: Secret | None = None
    # Slack
    slack_bot_token: Secret | None = None
    slack_signing_secret: Secret | None = None
    slack_app_token: Secret | None = None
    slack_api_url: str = SLACK_API_URL
    slack_ack_budget_seconds: float = 2.0
    slack_body_timeout_seconds: float = 10.0  # a /slack/events body must arrive whole within this
    slack_max_pending_bodies: int = 64  # /slack/events bodies being received at once; more get 503
    clue_url_template: str = "https://crm.example.com/clues/{id}"
    clue_url_patterns: tuple[str, ...] = ()
    clue_user_rate_per_minute: int = 30
    clue_max_ids: int = 10
    clue_search_rate_per_minute: int = 10  # searches per person per minute (their own budget)
    clue_search_cache_ttl_seconds: float = 30.0  # a page of results is reused this long
    clue_summary_fields: tuple[str, ...] = DEFAULT_SUMMARY_FIELDS  # custom fields in the card's summary
    clue_due_field: str | None = DEFAULT_DUE_FIELD  # the summary datetime marked overdue once past
    default_locale: str = DEFAULT_LOCALE
    clue_user_locale: bool = True  # cards in each person's Slack language (users.info, users:read scope)
    # Access control (empty allow list: everyone)
    slack_allowed_team_ids: frozenset[str] = frozenset()
    clue_allowed_user_ids: frozenset[str] = frozenset()
    clue_allowed_channel_ids: frozenset[str] = frozenset()
    clue_unfurl_channel_ids: frozenset[str] = frozenset()
    clue_allow_shared_channels: bool = False
    clue_admin_contact: str = "your Slack admin"
    # Alerts (database_url None: no database, no alerts: DATABASE_URL=off)
    database_url: Secret | None = field(default_factory=lambda: Secret(DEFAULT_DATABASE_URL))
    clue_subscribe_user_ids: frozenset[str] = frozenset()  # who may subscribe channels (empty: who may look up)
    clue_alert_poll_seconds: float = 10.0
    clue_alert_lookback_seconds: float = 120.0  # each poll re-reads this far behind the mark (late arrivals)
    clue_alert_max_pages: int = 100  # CRM pages per poll at most; the rest waits for the next poll
    clue_alert_digest_over: int = 5  # more new clues than this for one channel in one round: one digest
    clue_alert_post_interval_seconds: float = 1.0  # posts to one channel at most this often
    clue_alert_lease_seconds: float = 30.0  # a dead poller is replaced within this (plus one poll interval)
    # Process
    host: str = "127.0.0.1"
    port: int = 3000
    log_level: str = "INFO"
    web_concurrency: int = 1  # worker processes serving HTTP (the playground always runs one)

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
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; raise one ConfigError listing every problem."""
        reader = _Reader(env)
        r = reader
        crm_base_url = r.text("CRM_BASE_URL")
        if crm_base_url is not None:
            crm_base_url = crm_base_url.rstrip("/")
            if not _is_http_url(crm_base_url):
                r.problem("CRM_BASE_URL must be an http(s) URL, e.g. https://account.tanmarket.cn/apiServer")
        app_id = r.text("CRM_APP_ID")
        app_key = r.text("CRM_APP_KEY")
        if crm_base_url is not None:
            if app_id is None:
                r.problem("CRM_APP_ID is required when CRM_BASE_URL is set")
            if app_key is None:
                r.problem("CRM_APP_KEY is required when CRM_BASE_URL is set")
        elif app_id is not None or app_key is not None:
            # Without a base URL the embedded sandbox CRM answers, and it refuses real credentials.
            r.problem("CRM_BASE_URL is required when CRM_APP_ID or CRM_APP_KEY is set")
        timezone = r.text("CRM_TIMEZONE") or "Asia/Shanghai"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            r.problem(f"CRM_TIMEZONE {timezone!r} is not a known IANA time zone")

        aliases: dict[str, str] = {}
        for pair in (r.text("CRM_FIELD_ALIASES") or "").split(","):
            key, sep, outer = pair.partition("=")
            if not pair.strip():
                continue
            if not sep or not key.strip() or not outer.strip():
                r.problem(f"CRM_FIELD_ALIASES entry {pair.strip()[:40]!r} must look like key=target, "
                          "the target a list-fields outerField, field id or field name (customer_stage=91634)")
                continue
            aliases[key.strip()] = outer.strip()

        bot_token = r.secret("SLACK_BOT_TOKEN")
        signing_secret = r.secret("SLACK_SIGNING_SECRET")
        app_token = r.secret("SLACK_APP_TOKEN")
        if bot_token and not bot_token.reveal().startswith("xoxb-"):
            r.problem("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if app_token and not app_token.reveal().startswith("xapp-"):
            r.problem("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        if app_token and not bot_token:
            r.problem("SLACK_BOT_TOKEN is required with SLACK_APP_TOKEN (Socket Mode)")
        if bot_token and not app_token and not signing_secret:
            r.problem("SLACK_SIGNING_SECRET is required to serve Slack over HTTP")
        if signing_secret and not bot_token:
            r.problem("SLACK_BOT_TOKEN is required when SLACK_SIGNING_SECRET is set")

        slack_api_url = r.text("SLACK_API_URL") or SLACK_API_URL
        if not _is_http_url(slack_api_url):
            r.problem("SLACK_API_URL must be an http(s) URL")
        slack_api_url = slack_api_url.rstrip("/") + "/"  # slack_sdk needs the trailing slash

        template = r.text("CLUE_URL_TEMPLATE") or cls.clue_url_template
        if template.count("{id}") != 1 or not _is_http_url(template.replace("{id}", "1")):
            r.problem("CLUE_URL_TEMPLATE must be an http(s) URL containing {id} once")
        patterns = tuple(p for p in (r.text("CLUE_URL_PATTERNS") or "").split() if p)
        for pattern in patterns:
            try:
                if "id" not in re.compile(pattern).groupindex:
                    r.problem(f"CLUE_URL_PATTERNS entry {pattern!r} needs a named group (?P<id>...)")
            except re.error as exc:
                r.problem(f"CLUE_URL_PATTERNS entry {pattern!r} is not a regular expression: {exc}")

        redis_url = r.secret("REDIS_URL")
        if redis_url and (problem := _redis_url_problem(redis_url.reveal())):
            r.problem(problem)

        log_level = (r.text("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            r.problem(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        locale = r.text("CLUE_DEFAULT_LOCALE") or DEFAULT_LOCALE
        if locale not in LOCALES:
            r.problem(f"CLUE_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}")

        database_url: Secret | None = r.secret("DATABASE_URL") or Secret(DEFAULT_DATABASE_URL)
        if database_url is not None and database_url.reveal().lower() == DATABASE_OFF:
            database_url = None
        elif database_url is not None and not re.match(r"(sqlite|postgres|postgresql)(\+\w+)?://",
                                                       database_url.reveal()):
            r.problem("DATABASE_URL must be sqlite+aiosqlite:///path/to/file.db, postgresql://user:pass@host/db or off")

        d = cls()
        settings = cls(
            crm_base_url=crm_base_url,
            crm_app_id=app_id or SANDBOX_APP_ID,
            crm_app_key=Secret(app_key or SANDBOX_APP_KEY),
            crm_timeout_seconds=r.number("CRM_TIMEOUT_SECONDS", d.crm_timeout_seconds, float, 0.1, 60),
            crm_timezone=timezone,
            crm_field_aliases=aliases,
            crm_max_response_bytes=r.number(
                "CRM_MAX_RESPONSE_BYTES", d.crm_max_response_bytes, int, 1024, 100_000_000
            ),
            crm_max_concurrency=r.number("CRM_MAX_CONCURRENCY", d.crm_max_concurrency, int, 1, 1000),
            crm_rate_per_second=r.number("CRM_RATE_PER_SECOND", d.crm_rate_per_second, float, 0.1, 10_000),
            crm_breaker_failures=r.number("CRM_BREAKER_FAILURES", d.crm_breaker_failures, int, 1, 1000),
            crm_breaker_cooldown_seconds=r.number(
                "CRM_BREAKER_COOLDOWN_SECONDS", d.crm_breaker_cooldown_seconds, float, 0.1, 3600
            ),
            crm_reference_ttl_seconds=r.number(
                "CRM_REFERENCE_TTL_SECONDS", d.crm_reference_ttl_seconds, float, 1, 7 * 86_400
            ),
            crm_reference_min_refresh_seconds=r.number(
                "CRM_REFERENCE_MIN_REFRESH_SECONDS", d.crm_reference_min_refresh_seconds, float, 1, 7 * 86_400
            ),
            clue_cache_ttl_seconds=r.number("CLUE_CACHE_TTL_SECONDS", d.clue_cache_ttl_seconds, float, 0, 86_400),
            clue_cache_maxsize=r.number("CLUE_CACHE_MAXSIZE", d.clue_cache_maxsize, int, 1, 10_000_000),
            clue_negative_ttl_seconds=r.number(
                "CLUE_NEGATIVE_TTL_SECONDS", d.clue_negative_ttl_seconds, float, 0, 86_400
            ),
            clue_stale_seconds=r.number("CLUE_STALE_SECONDS", d.clue_stale_seconds, float, 0, 30 * 86_400),
            clue_revalidate_seconds=r.number(
                "CLUE_REVALIDATE_SECONDS", d.clue_revalidate_seconds, float, 0, 86_400
            ),
            clue_follow_up_ttl_seconds=r.number(
                "CLUE_FOLLOW_UP_TTL_SECONDS", d.clue_follow_up_ttl_seconds, float, 0, 86_400
            ),
            clue_follow_up_wait_seconds=r.number(
                "CLUE_FOLLOW_UP_WAIT_SECONDS", d.clue_follow_up_wait_seconds, float, 0, 2
            ),
            redis_url=redis_url,
            slack_bot_token=bot_token,
            slack_signing_secret=signing_secret,
            slack_app_token=app_token,
            slack_api_url=slack_api_url,
            slack_ack_budget_seconds=r.number(
                "SLACK_ACK_BUDGET_SECONDS", d.slack_ack_budget_seconds, float, 0, 2.5
            ),
            slack_body_timeout_seconds=r.number(
                "SLACK_BODY_TIMEOUT_SECONDS", d.slack_body_timeout_seconds, float, 0.1, 60
            ),
            slack_max_pending_bodies=r.number("SLACK_MAX_PENDING_BODIES", d.slack_max_pending_bodies, int, 1, 10_000),
            clue_url_template=template,
            clue_url_patterns=patterns,
            clue_user_rate_per_minute=r.number(
                "CLUE_USER_RATE_PER_MINUTE", d.clue_user_rate_per_minute, int, 1, 100_000
            ),
            clue_max_ids=r.number("CLUE_MAX_IDS", d.clue_max_ids, int, 1, 20),
            clue_search_rate_per_minute=r.number(
                "CLUE_SEARCH_RATE_PER_MINUTE", d.clue_search_rate_per_minute, int, 1, 100_000
            ),
            clue_search_cache_ttl_seconds=r.number(
                "CLUE_SEARCH_CACHE_TTL_SECONDS", d.clue_search_cache_ttl_seconds, float, 0, 3600
            ),
            clue_summary_fields=r.names("CLUE_SUMMARY_FIELDS", d.clue_summary_fields),
            clue_due_field=r.text("CLUE_DUE_FIELD") or d.clue_due_field,
            default_locale=locale,
            clue_user_locale=r.flag("CLUE_USER_LOCALE", True),
            slack_allowed_team_ids=r.ids("SLACK_ALLOWED_TEAM_IDS", "TE"),
            clue_allowed_user_ids=r.ids("CLUE_ALLOWED_USER_IDS", "UW"),
            clue_allowed_channel_ids=r.ids("CLUE_ALLOWED_CHANNEL_IDS", "CGD"),
            clue_unfurl_channel_ids=r.ids("CLUE_UNFURL_CHANNEL_IDS", "CGD"),
            clue_allow_shared_channels=r.flag("CLUE_ALLOW_SHARED_CHANNELS", False),
            clue_admin_contact=r.text("CLUE_ADMIN_CONTACT") or d.clue_admin_contact,
            database_url=database_url,
            clue_subscribe_user_ids=r.ids("CLUE_SUBSCRIBE_USER_IDS", "UW"),
            clue_alert_poll_seconds=r.number("CLUE_ALERT_POLL_SECONDS", d.clue_alert_poll_seconds, float, 0.1, 3600),
            clue_alert_lookback_seconds=r.number(
                "CLUE_ALERT_LOOKBACK_SECONDS", d.clue_alert_lookback_seconds, float, 0, 86_400
            ),
            clue_alert_max_pages=r.number("CLUE_ALERT_MAX_PAGES", d.clue_alert_max_pages, int, 1, 10_000),
            clue_alert_digest_over=r.number("CLUE_ALERT_DIGEST_OVER", d.clue_alert_digest_over, int, 1, 1000),
            clue_alert_post_interval_seconds=r.number(
                "CLUE_ALERT_POST_INTERVAL_SECONDS", d.clue_alert_post_interval_seconds, float, 0, 60
            ),
            clue_alert_lease_seconds=r.number("CLUE_ALERT_LEASE_SECONDS", d.clue_alert_lease_seconds, float, 1, 3600),
            host=r.text("HOST") or d.host,
            port=r.number("PORT", d.port, int, 0, 65_535),
            log_level=log_level,
            web_concurrency=r.number("WEB_CONCURRENCY", d.web_concurrency, int, 1, 64),
        )
        if reader.problems:
            raise ConfigError(reader.problems)
        return settings


class _Reader:
    """Reads typed values from the environment, collecting problems instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def text(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def secret(self, name: str) -> Secret | None:
        value = self.text(name)
        return Secret(value) if value else None

    def ids(self, name: str, prefixes: str) -> frozenset[str]:
        """A comma or space separated list of Slack ids starting with one of ``prefixes``."""
        values = frozenset(v for v in re.split(r"[\s,]+", self.text(name) or "") if v)
        bad = sorted(v for v in values if not re.fullmatch(f"[{prefixes}][A-Z0-9]{{2,30}}", v))
        if bad:
            self.problem(f"{name} has entries that are not Slack ids: {', '.join(b[:20] for b in bad[:5])}")
        return values

    def names(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A comma-separated, ordered list of field keys or names; unset: ``default``, "-": none."""
        raw = self._env.get(name)
        if raw is None or not raw.strip():
            return default
        if raw.strip() == "-":
            return ()
        names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        if len(names) > MAX_SUMMARY_FIELDS or any(len(n) > 100 for n in names):
            self.problem(f"{name}: at most {MAX_SUMMARY_FIELDS} names of at most 100 characters each")
            return default
        return names

    def flag(self, name: str, default: bool) -> bool:
        raw = (self.text(name) or "").lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        self.problem(f"{name} must be true or false, got {raw[:20]!r}")
        return default

    def number(self, name: str, default: T, kind: Callable[[str], T], low: float, high: float) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            # Plain ASCII decimals only: int() and float() also take "1_000", "٣", "nan" and "inf".
            if not re.fullmatch(_INT if kind is int else _FLOAT, raw, re.ASCII):
                raise ValueError(raw)
            value = kind(raw)
        except ValueError:
            self.problem(f"{name} must be a {'whole ' if kind is int else ''}number, got {raw[:40]!r}")
            return default
        if not low <= value <= high:  # type: ignore[operator]
            self.problem(f"{name} must be between {low:g} and {high:g}, got {raw[:40]!r}")
            return default
        return value


_INT = r"[+-]?\d+"
_FLOAT = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


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
