"""Resolution of option ids, stage, tags and times: through the sandbox and on hand-made data."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.compose import Clocks, build_crm
from bot.config import SANDBOX_APP_ID, SANDBOX_APP_KEY, Settings
from bot.crm.catalog import Catalog
from bot.crm.client import CrmClient
from bot.crm.models import (
    FieldDef,
    RawClue,
    RawField,
    Tag,
    parse_crm_time,
    parse_field_defs,
    parse_option_ids,
    parse_phones,
)
from bot.crm.reference import ClueFetcher, ReferenceData
from bot.dev.sandbox import SandboxServer, seed
from bot.domain.clue import Clue, FieldView
from bot.runtime.metrics import Metrics
from tests.support import FakeClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
Factory = Callable[..., CrmClient]


def fetcher_for(client: CrmClient, clock: FakeClock | None = None) -> ClueFetcher:
    return ClueFetcher(client, ReferenceData(client, ttl=3600, clock=clock or FakeClock()), SHANGHAI)


async def test_doc_example_resolves_stage_phone_and_times(sandbox: SandboxServer, crm_factory: Factory) -> None:
    clue = await fetcher_for(crm_factory(sandbox.url)).fetch(8)
    assert clue.name == "打马赛克就"
    assert clue.stage is not None and clue.stage.text == "初步接触" and clue.stage.known
    assert clue.stage.label == "客户阶段"
    assert clue.phones == ("145678388",)
    assert clue.description == "u 诶IE"
    assert clue.created is not None and clue.created.epoch == 1620717348
    assert clue.created.at == datetime(2021, 5, 11, 15, 15, 48, tzinfo=SHANGHAI)
    assert clue.source is None and clue.gender is None and clue.address is None  # null in the doc
    assert clue.converted is None and not clue.converted_to_customer


async def test_tags_resolve_by_numeric_id_and_wecom_id(sandbox: SandboxServer, crm_factory: Factory) -> None:
    fetcher = fetcher_for(crm_factory(sandbox.url))
    for clue_id in seed.WECOM_TAG_CLUE_IDS:
        clue = await fetcher.fetch(clue_id)
        raw_ids = sandbox.state.clue(clue_id)["tagIds"]  # type: ignore[index]
        assert any(not i.isdigit() for i in raw_ids)  # really carries a qwTagId
        assert clue.tags and all(t.name and t.group for t in clue.tags)


async def test_converted_clue(sandbox: SandboxServer, crm_factory: Factory) -> None:
    clue = await fetcher_for(crm_factory(sandbox.url)).fetch(seed.CONVERTED_CLUE_IDS[0])
    assert clue.converted_to_customer and clue.converted is not None and clue.converted.at is not None


async def test_unknown_ids_are_kept_raw_and_refreshed_once(sandbox: SandboxServer, crm_factory: Factory) -> None:
    clock = FakeClock()
    fetcher = fetcher_for(crm_factory(sandbox.url), clock)

    def reference_calls() -> tuple[int, int]:
        calls = sandbox.state.stats().calls
        return calls.get("/api/v2/customer/list-fields", 0), calls.get("/api/v3/tags/list-tree", 0)

    tag_clue = await fetcher.fetch(seed.UNKNOWN_TAG_CLUE_ID)
    assert [t.id for t in tag_clue.tags if t.name is None] == [seed.UNKNOWN_TAG_ID]
    assert reference_calls() == (1, 1)  # just loaded: reloading at once could not know more
    clock.advance(601)
    stage_clue = await fetcher.fetch(seed.UNKNOWN_OPTION_CLUE_ID)
    assert stage_clue.stage is not None and stage_clue.stage.unresolved == (seed.UNKNOWN_STAGE_OPTION_ID,)
    assert reference_calls() == (2, 2)  # unknown id on an older snapshot: one refresh
    await fetcher.fetch(seed.UNKNOWN_OPTION_CLUE_ID)
    await fetcher.fetch(seed.UNKNOWN_TAG_CLUE_ID)
    assert reference_calls() == (2, 2)  # never a refresh storm for ids that stay unknown
    await fetcher.fetch(8)
    assert reference_calls() == (2, 2)  # known ids never refresh


def reference_calls(sandbox: SandboxServer) -> tuple[int, int]:
    calls = sandbox.state.stats().calls
    return calls.get("/api/v2/customer/list-fields", 0), calls.get("/api/v3/tags/list-tree", 0)


async def test_unknown_ids_reload_reference_data_at_most_once_per_interval(sandbox: SandboxServer) -> None:
    clock = FakeClock()
    settings = Settings.from_env({"CRM_BASE_URL": sandbox.url, "CRM_APP_ID": SANDBOX_APP_ID,
                                  "CRM_APP_KEY": SANDBOX_APP_KEY, "CRM_RATE_PER_SECOND": "1000"})
    async with AsyncExitStack() as stack:
        parts = await build_crm(settings, stack, Metrics(), Clocks(monotonic=clock))
        unknown = seed.UNKNOWN_OPTION_CLUE_ID
        await parts.fetcher.fetch(unknown)
        assert reference_calls(sandbox) == (1, 1)
        for _ in range(9):  # an unknown stage looked up every minute: no reload before 600 s
            clock.advance(60)
            clue = await parts.fetcher.fetch(unknown)
            assert clue.stage is not None and clue.stage.unresolved == (seed.UNKNOWN_STAGE_OPTION_ID,)
        assert reference_calls(sandbox) == (1, 1)
        clock.advance(60)
        await asyncio.gather(*(parts.fetcher.fetch(unknown) for _ in range(20)))
        assert reference_calls(sandbox) == (2, 2)  # 600 s on: one reload, shared by every lookup

        # A reload that fails keeps the last good data: the known source still resolves.
        clock.advance(600)
        sandbox.state.set_fault(None, status=500, endpoint="/api/v2/customer/list-fields")
        clue = await parts.fetcher.fetch(unknown)
        assert reference_calls(sandbox) == (3, 3)
        assert clue.source is not None and clue.source.text == "电话营销" and clue.source.known
        await parts.fetcher.fetch(unknown)
        assert reference_calls(sandbox) == (3, 3)  # a failed reload also waits out the interval


async def test_lookups_during_the_first_load_wait_for_it(sandbox: SandboxServer, crm_factory: Factory) -> None:
    # Before any reference data: every concurrent lookup shares the one first load and resolves with it,
    # none is answered from the empty snapshot with raw ids.
    fetcher = fetcher_for(crm_factory(sandbox.url))
    clues = await asyncio.gather(*(fetcher.fetch(8) for _ in range(5)))
    assert all(c.stage is not None and c.stage.text == "初步接触" for c in clues)
    assert reference_calls(sandbox) == (1, 1)


async def test_reference_refresh_picks_up_a_new_tag(sandbox: SandboxServer, crm_factory: Factory) -> None:
    clock = FakeClock()
    fetcher = fetcher_for(crm_factory(sandbox.url), clock)
    assert (await fetcher.fetch(seed.UNKNOWN_TAG_CLUE_ID)).unknown_tag_count == 1
    groups = [dict(g) for g in seed.TAG_GROUPS]
    groups[0] = {**groups[0], "tags": [*groups[0]["tags"], {"id": int(seed.UNKNOWN_TAG_ID), "name": "新标签",
                                                              "qwTagId": "etNEW"}]}
    sandbox.state.set_catalog(tag_groups=groups)
    clock.advance(601)
    clue = await fetcher.fetch(seed.UNKNOWN_TAG_CLUE_ID)
    assert clue.unknown_tag_count == 0
    assert "新标签" in [t.name for t in clue.tags]


async def test_reference_failure_degrades_to_raw_ids(sandbox: SandboxServer, crm_factory: Factory) -> None:
    sandbox.state.set_fault(None, status=503, endpoint="/api/v3/tags/list-tree")
    clue = await fetcher_for(crm_factory(sandbox.url)).fetch(12)
    assert clue.tags and all(t.name is None for t in clue.tags)
    assert clue.name  # the clue itself still arrives


async def test_every_seed_clue_resolves(sandbox: SandboxServer, crm_factory: Factory) -> None:
    fetcher = fetcher_for(crm_factory(sandbox.url))
    for raw in seed.CLUES:
        clue = await fetcher.fetch(raw["customerId"])
        assert clue.id == raw["customerId"]
        assert Clue.from_json(clue.to_json()) == clue


def test_multi_select_accepts_json_comma_and_single() -> None:
    assert parse_option_ids('["1","2"]') == ("1", "2")
    assert parse_option_ids("[1, 2]") == ("1", "2")
    assert parse_option_ids("1,2") == ("1", "2")
    assert parse_option_ids("7") == ("7",)
    assert parse_option_ids("[") == ()
    assert parse_option_ids(None) == ()


def test_phones_tolerate_odd_encodings() -> None:
    assert parse_phones('["145678388"]') == ("145678388",)
    assert parse_phones('["13800000000","021-5555"]') == ("13800000000", "021-5555")
    assert parse_phones("13800000000") == ("13800000000",)
    assert parse_phones("[13800000000]") == ("13800000000",)
    assert parse_phones('""') == ()
    assert parse_phones(None) == ()


@pytest.mark.parametrize(("text", "expected"), [
    ("2021-05-11 15:15:48", datetime(2021, 5, 11, 15, 15, 48, tzinfo=SHANGHAI)),
    ("2021-05-11", datetime(2021, 5, 11, tzinfo=SHANGHAI)),
    ("2021/05/11 15:15:48", datetime(2021, 5, 11, 15, 15, 48, tzinfo=SHANGHAI)),
    ("1620717348000", datetime.fromtimestamp(1620717348, SHANGHAI)),
    ("2021-05-11T07:15:48+00:00", datetime.fromisoformat("2021-05-11T07:15:48+00:00")),
    ("yesterday", None),
    ("", None),
])
def test_crm_times(text: str, expected: datetime | None) -> None:
    assert parse_crm_time(text, SHANGHAI) == expected


def test_gender_uses_documented_options_without_a_catalog() -> None:
    raw = RawClue(customer_id=1, is_clue=True, type=1, tag_ids=(), create_time=None, last_update_time=None,
                  convert_customer_time=None, company_name=None,
                  fields=(RawField("gender", 2, "2"), RawField("customer_stage", 2, "5"),
                          RawField("91650", 6, '["a","zz"]'), RawField("weird", 42, "x<y")))
    catalog = Catalog(fields=[FieldDef("91650", None, "意向产品", 6, {"a": "SCRM"})])
    clue = catalog.resolve(raw, SHANGHAI)
    assert clue.gender is not None and clue.gender.text == "女"
    assert clue.stage is not None and clue.stage.text == "5" and clue.stage.unresolved == ("5",)
    custom = {f.key: f for f in clue.other_fields}
    assert custom["91650"].text == "SCRM, zz" and custom["91650"].unresolved == ("zz",)
    assert custom["91650"].label == "意向产品"
    assert custom["weird"].text == "x<y" and custom["weird"].label is None


def test_aliases_map_clue_keys_to_outer_fields() -> None:
    raw = RawClue(customer_id=1, is_clue=True, type=1, tag_ids=("t1", "qw1"), create_time=None,
                  last_update_time=None, convert_customer_time=None, company_name=None,
                  fields=(RawField("customer_stage", 2, "9"),))
    catalog = Catalog(fields=[FieldDef("1", "salesStage", "阶段", 2, {"9": "赢单"})],
                      tags=[Tag("t1", "qw1", "VIP", "等级")], aliases={"customer_stage": "salesStage"})
    clue = catalog.resolve(raw, SHANGHAI)
    assert clue.stage is not None and clue.stage.text == "赢单"
    assert [t.name for t in clue.tags] == ["VIP", "VIP"]
    assert not clue.has_unknown_ids


# ------------------------------------------------------------------ option ids without outerField


def bound_fields(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    return [(r.key, r.rule, r.field_name) for r in caplog.records  # type: ignore[attr-defined]
            if r.getMessage() == "crm.field.bound"]


async def test_vendor_shaped_list_fields_resolve_every_select(sandbox: SandboxServer, crm_factory: Factory,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    # The sandbox's list-fields is vendor-shaped: outerField null on every field.
    assert {f["outerField"] for f in sandbox.state.field_defs()} == {None}
    fetcher = fetcher_for(crm_factory(sandbox.url))
    with caplog.at_level(logging.INFO, logger="bot.crm.catalog"):
        clue = await fetcher.fetch(1)
        for clue_id in (2, 3, 4, 8, seed.COMMA_OPTIONS_CLUE_ID):  # more lookups: no more binding lines
            await fetcher.fetch(clue_id)
    assert clue.stage is not None and (clue.stage.text, clue.stage.label, clue.stage.known) == (
        "初步接触", "客户阶段", True)
    assert clue.source is not None and (clue.source.text, clue.source.label) == ("官网注册", "客户来源")
    assert clue.purchase_intention is not None and clue.purchase_intention.text == "高"
    assert clue.gender is not None and (clue.gender.text, clue.gender.label) == ("男", "性别")
    products = next(f for f in clue.other_fields if f.key == str(seed.PRODUCTS_FIELD_ID))
    assert (products.text, products.label) == ("SCRM, 营销自动化", "意向产品")
    bound = bound_fields(caplog)
    assert len(bound) == len(set(bound))  # each binding logged once, not per lookup
    # Bindings are made (and logged) for the fields a card shows by definition; the phone is read as text.
    assert {b[:2]: b[2] for b in bound if b[0] in ("customer_stage", "customer_source", "gender", "mobile",
                                                   str(seed.PRODUCTS_FIELD_ID))} == {
        ("customer_stage", "option_id"): "客户阶段", ("customer_source", "option_id"): "客户来源",
        ("gender", "display_name"): "性别", (str(seed.PRODUCTS_FIELD_ID), "field_id"): "意向产品"}


async def test_unknown_stage_id_falls_back_to_the_display_name(sandbox: SandboxServer,
                                                               crm_factory: Factory) -> None:
    clue = await fetcher_for(crm_factory(sandbox.url)).fetch(seed.UNKNOWN_OPTION_CLUE_ID)
    # No field holds the id, so 客户阶段 is found by name; its options do not know the id: marked.
    assert clue.stage is not None and clue.stage.label == "客户阶段"
    assert clue.stage.unresolved == (seed.UNKNOWN_STAGE_OPTION_ID,)


def catalog_of(fields: list[dict[str, object]], **aliases: str) -> Catalog:
    return Catalog(parse_field_defs({"fields": fields}), aliases=aliases)


def clue_with(*fields: RawField) -> RawClue:
    return RawClue(customer_id=1, is_clue=True, type=1, tag_ids=(), create_time=None, last_update_time=None,
                   convert_customer_time=None, company_name=None, fields=fields)


def test_small_option_ids_never_resolve_through_another_field() -> None:
    level = {"id": 91700, "name": "客户等级", "type": 2, "outerField": None, "stable": False,
             "items": [{"id": 1, "name": "A级"}, {"id": 2, "name": "B级"}]}
    gender = json.loads((FIXTURES / "list-fields.json").read_text(encoding="utf-8"))["data"]["fields"][0]
    raw = clue_with(RawField("gender", 2, "1"))
    # Only another field has option 1: gender keeps its documented options, never "A级".
    assert catalog_of([level]).resolve(raw, SHANGHAI).gender == FieldView("gender", None, "男", 2)
    # Both have option 1: the display name 性别 decides.
    both = catalog_of([level, gender]).resolve(raw, SHANGHAI)
    assert both.gender == FieldView("gender", "性别", "男", 2)


def test_aliases_name_a_field_by_outer_field_id_or_display_name() -> None:
    renamed = {"id": 91634, "name": "销售阶段", "type": 2, "outerField": "salesStage", "stable": True,
               "items": [{"id": 4, "name": "赢单"}]}  # small ids and another name: no rule but an alias finds it
    raw = clue_with(RawField("customer_stage", 2, "4"))
    assert catalog_of([renamed]).resolve(raw, SHANGHAI).stage == FieldView(
        "customer_stage", None, "4", 2, unresolved=("4",))
    for target in ("salesStage", "91634", "销售阶段"):
        stage = catalog_of([renamed], customer_stage=target).resolve(raw, SHANGHAI).stage
        assert stage == FieldView("customer_stage", "销售阶段", "赢单", 2), target


async def test_an_alias_by_display_name_through_the_fetcher(sandbox: SandboxServer, crm_factory: Factory) -> None:
    fields = json.loads(json.dumps(seed.FIELDS))
    stage = next(f for f in fields if f["name"] == "客户阶段")
    stage["name"] = "销售阶段"
    stage["items"] = [{"id": 5, "name": "赢单"}]
    sandbox.state.set_catalog(fields=fields)
    sandbox.state.update_clue(8, customer_stage="5")
    client = crm_factory(sandbox.url)
    plain = await fetcher_for(client).fetch(8)
    assert plain.stage is not None and plain.stage.unresolved == ("5",)
    aliased = ClueFetcher(client, ReferenceData(client, ttl=3600, clock=FakeClock(),
                                                aliases={"customer_stage": "销售阶段"}), SHANGHAI)
    clue = await aliased.fetch(8)
    assert clue.stage is not None
    assert (clue.stage.text, clue.stage.label, clue.stage.known) == ("赢单", "销售阶段", True)
