"""``python -m bot check``: the configuration ``serve`` would run with, tried against the real services.

One finding per line, ✓ or ✗, a ✗ with how to fix it: settings valid; the CRM reachable, our signature
accepted and our clock within its window (code 1003, and the offset from its HTTP ``Date``); the card's
summary and due fields among the tenant's ``list-fields`` (a name it does not have silently shows nothing);
optionally one clue fetched and resolved; the Slack bot token valid (``auth.test``: which team) with every
scope the manifest asks for; clue links not left at the example host while serving a workspace; whether
the CRM's push is received, and at which path; Redis reachable when configured. Read-only everywhere,
and every line goes through the log redaction, so no secret is printed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import httpx
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.compose import Clocks, build_crm
from bot.config import EXAMPLE_CLUE_URL_TEMPLATE, Settings
from bot.crm.models import FieldDef
from bot.crm.transport import AiohttpTransport
from bot.domain.clue import Clue
from bot.domain.ids import parse_clue_id
from bot.errors import BotError, ClueNotFound, ConfigError, CrmAuthError, CrmError, StoreError
from bot.fleet.redis import without_credentials
from bot.runtime.logs import RedactingJsonFormatter
from bot.runtime.metrics import Metrics
from bot.slack.app import BOT_SCOPES
from bot.store.database import connect

MAX_CLOCK_OFFSET_SECONDS = 60.0  # the CRM's window is unpublished (the sandbox's is ±5 minutes)
SLACK_TIMEOUT_SECONDS = 10.0
# Names reserved for examples (RFC 2606): a clue URL template on one was never changed from an example.
_PLACEHOLDER_TLDS = ("example", "invalid", "test")
_PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
REDIS_TIMEOUT_SECONDS = 2.0
_REINSTALL_HINT = ("copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions into SLACK_BOT_TOKEN; "
               "reinstall the app if it was uninstalled")


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    ok: bool
    what: str
    detail: str
    hint: str = ""

    def line(self) -> str:
        text = f"{'✓' if self.ok else '✗'} {self.what}: {self.detail}"
        return f"{text} → {self.hint}" if self.hint and not self.ok else text


def read_settings(env: Mapping[str, str]) -> tuple[Settings | None, Finding]:
    """Settings as ``serve`` reads them, and the finding that says whether they are valid."""
    try:
        settings = Settings.from_env(env, serve=True)
    except ConfigError as exc:
        return None, Finding(False, "settings", "; ".join(exc.problems),
                             "fix the variables named (README: Configuration)")
    mode = "playground" if settings.playground else "Socket Mode" if settings.socket_mode else "HTTP"
    workers = f", {settings.web_concurrency} workers" if settings.web_concurrency > 1 else ""
    return settings, Finding(True, "settings", f"valid ({mode}{workers})")


async def run_checks(settings: Settings, clue: str | None = None) -> list[Finding]:
    """Every check but the settings' (see ``read_settings``), in report order."""
    findings = await _crm(settings, clue)
    findings += await _slack(settings)
    if not settings.playground:
        findings.append(_clue_links(settings.clue_url_template))
    findings.append(_push(settings))
    if settings.redis_url is not None:
        findings.append(await _redis(settings.redis_url.reveal()))
    if settings.database_url is not None:
        findings.append(await _database(settings.database_url.reveal()))
    return findings


def report(findings: list[Finding], settings: Settings | None) -> str:
    """The lines to print, every secret of ``settings`` redacted (an error message may quote one)."""
    redactor = RedactingJsonFormatter(settings.secrets() if settings else ())
    return "\n".join(redactor.redact(f.line()) for f in findings)


class _DateRecorder(httpx.AsyncBaseTransport):
    """The transport under the CRM client, noting each answer's ``Date`` next to our clock's reading."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.offset: float | None = None  # the CRM's clock minus ours, seconds (HTTP dates have seconds only)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        with suppress(KeyError, TypeError, ValueError):  # no Date, or one that does not parse: no offset
            self.offset = parsedate_to_datetime(response.headers["date"]).timestamp() - time.time()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _crm(settings: Settings, clue: str | None) -> list[Finding]:
    if settings.crm_base_url is None:
        return [Finding(False, "CRM", "CRM_BASE_URL is not set (only the playground's embedded sandbox CRM answers)",
                        "set CRM_BASE_URL, CRM_APP_ID and CRM_APP_KEY")]
    where = settings.crm_base_url
    async with AsyncExitStack() as stack:
        dates = _DateRecorder(AiohttpTransport(max_connections=2))  # the transport serve uses
        crm = await build_crm(settings, stack, Metrics(), Clocks(), transport=dates)
        started = time.perf_counter()
        try:
            await crm.client.echo()
        except CrmAuthError as exc:
            reached = Finding(True, "CRM reachable", f"{where} answered")
            if not exc.clock_skew:
                return [reached, Finding(False, "CRM signature", f"rejected (code {exc.code})",
                                         "check CRM_APP_ID and CRM_APP_KEY (the CRM's open-platform settings)")]
            return [reached, Finding(True, "CRM signature", f"accepted for {settings.crm_app_id}"),
                    Finding(False, "clock", f"the CRM rejected our timestamp (code 1003){_offset(dates.offset)}",
                            "set this server's clock right (NTP, e.g. timedatectl set-ntp true)")]
        except CrmError as exc:
            return [Finding(False, "CRM reachable", f"{where}: {exc}",
                            "check CRM_BASE_URL (with its path prefix, e.g. /apiServer) and that this host reaches it")]
        elapsed = (time.perf_counter() - started) * 1000
        findings = [Finding(True, "CRM reachable", f"{where} answered in {elapsed:.0f} ms"),
                    Finding(True, "CRM signature", f"accepted for {settings.crm_app_id}"),
                    _clock(dates.offset)]
        try:
            findings.append(_card_fields(settings, await crm.client.list_fields()))
        except CrmError as exc:
            findings.append(Finding(False, "card fields", f"list-fields failed: {exc}",
                                    "check that the app may read customer fields (the CRM's open-platform settings)"))
        if clue is not None:
            findings.append(await _clue(crm.fetcher.fetch, clue))
        return findings


def _offset(offset: float | None) -> str:
    if offset is None:
        return ""
    return f"; this server's clock is {abs(offset):.0f} s {'behind' if offset > 0 else 'ahead of'} the CRM's"


def _clock(offset: float | None) -> Finding:
    if offset is None:
        return Finding(True, "clock", "accepted by the CRM (its answers carry no Date to compare with)")
    if abs(offset) > MAX_CLOCK_OFFSET_SECONDS:
        return Finding(False, "clock", f"accepted by the CRM for now{_offset(offset)}",
                       "set this server's clock right (NTP) before it leaves the CRM's window")
    return Finding(True, "clock", f"within {max(1.0, abs(offset)):.0f} s of the CRM's (HTTP Date)")


def _card_fields(settings: Settings, definitions: Sequence[FieldDef]) -> Finding:
    """The configured summary and due fields, each a key, id or name the tenant's list-fields has."""
    known = {v for d in definitions for v in (d.id, d.key, d.name) if v} | set(settings.crm_field_aliases)
    missing = [f"CLUE_SUMMARY_FIELDS has {name}" for name in settings.clue_summary_fields if name not in known]
    due = settings.clue_due_field
    if due is not None and due not in known:
        missing.append(f"CLUE_DUE_FIELD is {due} (the next follow-up would vanish from every card)")
    if not missing:
        configured = [*settings.clue_summary_fields, *([due] if due else [])]
        return Finding(True, "card fields", f"{', '.join(dict.fromkeys(configured)) or 'none configured'}: "
                                            "all in list-fields")
    names = ", ".join(d.name for d in definitions if not d.system)[:300] or "none"
    return Finding(False, "card fields", "; ".join(missing) + ", which list-fields does not have",
                   f"use field ids or names the tenant has (its own fields: {names}), or "
                   "CLUE_SUMMARY_FIELDS=- for none")


def _clue_links(template: str) -> Finding:
    """Every Open button and unfurl follows ``CLUE_URL_TEMPLATE``: left at a placeholder host, they all break."""
    host = urlsplit(template).hostname or ""
    if host.rsplit(".", 1)[-1] in _PLACEHOLDER_TLDS or any(host == d or host.endswith(f".{d}")
                                                           for d in _PLACEHOLDER_DOMAINS):
        left = " (the default)" if template == EXAMPLE_CLUE_URL_TEMPLATE else ""
        return Finding(False, "clue links", f"CLUE_URL_TEMPLATE is {template}{left}: every Open in CRM button "
                                            "and unfurl would point at an example host",
                       "set CLUE_URL_TEMPLATE to your CRM's clue page with {id} for the clue id, and list its "
                       "domain under unfurl_domains in manifest.yml")
    return Finding(True, "clue links", f"Open in CRM and unfurls use {host}")


async def _clue(fetch: Callable[[int], Awaitable[Clue]], text: str) -> Finding:
    what = f"clue {text[:30]}"
    try:
        clue = await fetch(parse_clue_id(text))
    except ClueNotFound:
        return Finding(False, what, "the CRM has no clue with this id", "pass an id you can open in the CRM")
    except BotError as exc:
        return Finding(False, what, str(exc), "pass a clue id from the CRM (digits)")
    unnamed = sum(tag.name is None for tag in clue.tags)
    tags = f"{len(clue.tags)} tags" + (f", {unnamed} not in the tag tree" if unnamed else "")
    return Finding(True, what, f"found and resolved ({tags})")


async def _slack(settings: Settings) -> list[Finding]:
    if settings.slack_bot_token is None:
        return [Finding(False, "Slack token", "SLACK_BOT_TOKEN is not set (serve would start the playground)",
                        "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (README: Installing into a Slack workspace)")]
    client = AsyncWebClient(token=settings.slack_bot_token.reveal(), base_url=settings.slack_api_url,
                            timeout=int(SLACK_TIMEOUT_SECONDS))
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error")
        return [Finding(False, "Slack token", f"rejected ({error})", _REINSTALL_HINT)]
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return [Finding(False, "Slack token", f"{settings.slack_api_url} unreachable ({type(exc).__name__})",
                        "check this host's network (and SLACK_API_URL if set)")]
    findings = [Finding(True, "Slack token", f"valid for team {answer.get('team')} ({answer.get('team_id')}), "
                                             f"bot user {answer.get('user_id')}")]
    granted_header = next((v for k, v in answer.headers.items() if k.lower() == "x-oauth-scopes"), None)
    people = settings.database_url is not None  # /clue me reads Slack profiles (users.info, their e-mail)
    optional = {"users:read": settings.clue_user_locale or people, "users:read.email": people}
    needed = [s for s in BOT_SCOPES if optional.get(s, True)]
    if granted_header is None:
        findings.append(Finding(False, "Slack scopes", "auth.test did not say which scopes the token has",
                                f"make sure the app has {', '.join(needed)} (manifest.yml)"))
        return findings
    granted = {s.strip() for s in str(granted_header).split(",")}
    missing = [s for s in needed if s not in granted]
    if missing:
        findings.append(Finding(False, "Slack scopes", f"missing {', '.join(missing)}",
                                "add them under OAuth & Permissions (manifest.yml lists them) and reinstall the app"))
    else:
        findings.append(Finding(True, "Slack scopes", ", ".join(needed)))
    return findings


def _push(settings: Settings) -> Finding:
    """Whether the CRM's push is received, and where (informational: push is optional)."""
    if not settings.crm_push_enabled:
        return Finding(True, "CRM push", "off (CRM_PUSH_ENABLED): changes reach cards when their cache expires")
    return Finding(True, "CRM push", f"on at {settings.crm_push_path} (corpid {settings.corp_id}): register "
                   f"https://<public host>{settings.crm_push_path} with python -m bot push-register")


async def _redis(url: str) -> Finding:
    where = without_credentials(url)
    hint = "check REDIS_URL (or unset it: each instance and worker then caches alone)"
    try:
        redis = Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS,
                               retry=Retry(NoBackoff(), 0))
    except ValueError as exc:
        return Finding(False, "Redis", f"REDIS_URL is not usable ({exc})", hint)
    try:
        async with asyncio.timeout(REDIS_TIMEOUT_SECONDS * 2):
            version = str((await redis.info("server")).get("redis_version", "?"))
    except (RedisError, OSError, TimeoutError) as exc:
        return Finding(False, "Redis", f"{where} unreachable ({type(exc).__name__})", hint)
    finally:
        await redis.aclose()
    if version.split(".")[0].isdigit() and int(version.split(".")[0]) < 5:
        return Finding(False, "Redis", f"{where} runs Redis {version}", "use Redis 5 or later (Lua with TIME)")
    return Finding(True, "Redis", f"{where} answered (Redis {version})")


async def _database(url: str) -> Finding:
    """The alerts database: reachable, and its schema current (checked, never migrated: check changes nothing)."""
    db = connect(url)
    hint = "check DATABASE_URL (or DATABASE_URL=off to run without alerts)"
    try:
        path = db.engine.url.database
        if db.dialect == "sqlite" and path and not await asyncio.to_thread(Path(path).exists):
            return Finding(True, "database", f"{db.described} is created at start-up")
        async with asyncio.timeout(REDIS_TIMEOUT_SECONDS * 2):
            took = await db.ping()
            current, newest = await db.revision()
    except (StoreError, TimeoutError) as exc:
        return Finding(False, "database", f"{db.described} unreachable ({exc})", hint)
    finally:
        await db.aclose()
    answered = f"{db.described} answered in {took * 1000:.0f} ms"
    if current != newest:
        return Finding(False, "database", f"{answered}, schema {current or 'empty'} (newest {newest})",
                       "serve migrates at start-up, or run python -m bot migrate")
    return Finding(True, "database", f"{answered}, schema {current} (current)")
