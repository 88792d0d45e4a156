"""Seed data of the sandbox CRM: clues, field definitions, the tag tree and follow-ups.

Every dict is shaped like the JSON the real Tanmarket CRM sends (``crm-api.md``), not like our parser
wants it, so the client is tested against the vendor's shapes. The named ``*_CLUE_ID`` constants mark
clues planted for one edge case each; the sandbox deep-copies this data, so nothing here is mutated.

Its size: it is data.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]

# Field type codes (crm-api.md section 4).
TEXT, SELECT, DATE, NUMBER, MULTILINE, MULTISELECT, DATETIME, PHONE = 1, 2, 3, 4, 5, 6, 7, 8

# ---------------------------------------------------------------- notable clue ids

DOC_CLUE_ID = 8  # the vendor's clue/get example, field for field
RICH_CLUE_ID = 1  # every field, four tags, a next follow-up (overdue) and three follow-ups: the playground's first chip
LONG_ID_CLUE_ID = 410983932389440  # 15 digits, as in the vendor docs; has 25 follow-ups (paging)
CONVERTED_CLUE_IDS = (3, 5)  # converted to customers: convertCustomerTime set, isClue false
AWAITING_ASSIGNMENT_CLUE_ID = 13  # isClue false without conversion (待分配), stage 输单
WECOM_TAG_CLUE_IDS = (3, 12)  # tagIds carry WeCom qwTagIds next to numeric 探马 ids
COMMA_OPTIONS_CLUE_ID = 11  # multi-select value sent as a comma list instead of a JSON array
LONG_TEXT_CLUE_ID = 9  # ~600-character multi-paragraph description
COMPANY_ONLY_CLUE_ID = 14  # corp_name unset, company known only from companyInfo
MANY_TAGS_CLUE_ID = 60  # 60 tags: every tag of the tree
HOSTILE_CLUE_ID = 66  # mrkdwn / mention / link injection, zero-width characters, backticks
UNKNOWN_TAG_CLUE_ID = 77  # one tag id that the tag tree does not contain
UNKNOWN_OPTION_CLUE_ID = 78  # customer_stage option id that list-fields does not contain
SPARSE_CLUE_ID = 99  # most fields missing, name null
LONG_DESCRIPTION_CLUE_ID = 5000  # 5,000-character description
MISSING_CLUE_ID = 404  # not in the seed: clue/get answers data null

UNKNOWN_TAG_ID = "412008799999999"
UNKNOWN_STAGE_OPTION_ID = "396823724189799"

# ---------------------------------------------------------------- field definitions (customer/list-fields)

PRODUCTS_FIELD_ID = 91650  # custom multi-select: clue/get keys it by the numeric field id
BUDGET_FIELD_ID = 91651  # custom number
NEXT_FOLLOW_UP_FIELD_ID = 91652  # custom datetime

STAGE_CONTACT = "396823724189760"  # the vendor example's option id
STAGE_INTENT = "396823724189761"
STAGE_QUOTE = "396823724189762"
STAGE_NEGOTIATION = "396823724189763"
STAGE_WON = "396823724189764"
STAGE_LOST = "396823724189765"
STAGE_NAMES = ((STAGE_CONTACT, "初步接触"), (STAGE_INTENT, "意向明确"), (STAGE_QUOTE, "报价中"),
               (STAGE_NEGOTIATION, "商务谈判"), (STAGE_WON, "赢单"), (STAGE_LOST, "输单"))
# "A lead changes stage" (the playground) moves a clue along this, then back to its start.
STAGE_PIPELINE = (STAGE_CONTACT, STAGE_INTENT, STAGE_QUOTE, STAGE_NEGOTIATION, STAGE_WON)

SOURCE_WEB = "402118734090241"
SOURCE_EXPO = "402118734090242"
SOURCE_REFERRAL = "402118734090243"
SOURCE_TELESALES = "402118734090244"
SOURCE_WECOM = "402118734090245"
SOURCE_SEARCH_ADS = "402118734090246"

INTENT_HIGH = "402118734091001"
INTENT_MEDIUM = "402118734091002"
INTENT_LOW = "402118734091003"

PRODUCT_SCRM = "411002345678901"
PRODUCT_ARCHIVE = "411002345678902"
PRODUCT_AUTOMATION = "411002345678903"
PRODUCT_CALLS = "411002345678904"
PRODUCT_MALL = "411002345678905"


def _items(*options: tuple[str, str]) -> list[Json]:
    return [{"id": int(option_id), "name": name} for option_id, name in options]


def _definition(field_id: int, name: str, type_: int, *, stable: bool = True, required: bool = False,
                items: Sequence[Json] = ()) -> Json:
    # outerField is null, as in the vendor's list-fields example: it is an alias a tenant may register
    # (profile-fields/map), so list-fields does not say which clue/get key a definition describes.
    return {"id": field_id, "name": name, "type": type_, "outerField": None, "stable": stable,
            "customerImportRequired": required, "items": list(items)}


# Which definition each clue/get system key means: the real CRM knows, its list-fields does not say.
# Only the sandbox itself uses this (to type a field update_clue adds, and for search's salesStageName).
FIELD_IDS_BY_KEY: dict[str, int] = {
    "name": 91631, "mobile": 91632, "corp_name": 91633, "customer_stage": 91634, "customer_source": 91635,
    "purchase_intention": 91636, "description": 91637, "address": 91638, "birthday": 91639, "gender": 91640,
}

FIELDS: list[Json] = [
    _definition(91631, "姓名", TEXT, required=True),
    _definition(91632, "电话", PHONE),  # the vendor example's name for the phone field
    _definition(91633, "公司名称", TEXT),
    _definition(91634, "客户阶段", SELECT, items=_items(*STAGE_NAMES)),
    _definition(91635, "客户来源", SELECT, items=_items(
        (SOURCE_WEB, "官网注册"), (SOURCE_EXPO, "展会"), (SOURCE_REFERRAL, "客户转介绍"),
        (SOURCE_TELESALES, "电话营销"), (SOURCE_WECOM, "企微活码"), (SOURCE_SEARCH_ADS, "百度推广"))),
    _definition(91636, "购买意向", SELECT, items=_items(
        (INTENT_HIGH, "高"), (INTENT_MEDIUM, "中"), (INTENT_LOW, "低"))),
    _definition(91640, "性别", SELECT, items=_items(("0", "其它"), ("1", "男"), ("2", "女"))),
    # The vendor example sends description as type 1 even though it holds multi-line text.
    _definition(91637, "描述", TEXT),
    _definition(91638, "地址", TEXT),
    _definition(91639, "生日", DATE),
    _definition(PRODUCTS_FIELD_ID, "意向产品", MULTISELECT, stable=False, items=_items(
        (PRODUCT_SCRM, "SCRM"), (PRODUCT_ARCHIVE, "会话存档"), (PRODUCT_AUTOMATION, "营销自动化"),
        (PRODUCT_CALLS, "电销外呼"), (PRODUCT_MALL, "私域商城"))),
    _definition(BUDGET_FIELD_ID, "预算（万元）", NUMBER, stable=False),
    _definition(NEXT_FOLLOW_UP_FIELD_ID, "下次跟进时间", DATETIME, stable=False),
]

# ---------------------------------------------------------------- tag tree (tags/list-tree)

# The vendor's own example ids for the first group; the rest are derived so they look like WeCom ids.
_VENDOR_QW_TAG_IDS = {
    "企业类型": "etCBS_DwAA9lTDZhlMpv-jK8Ph9udv0A",
    "央企": "etCBS_DwAAAdph7Ou6LgpwRqR66t5tDA",
}


def _qw_tag_id(name: str) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()).decode()
    return _VENDOR_QW_TAG_IDS.get(name, "etCBS_DwAA" + digest[:22])


_TAG_GROUP_NAMES: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (412008700010000, "企业类型", ("央企", "国企", "民营企业", "外资企业", "事业单位")),
    (412008700020000, "行业", ("制造业", "互联网", "金融", "教育", "医疗健康", "零售", "物流", "能源",
                             "房地产", "汽车", "餐饮", "政务")),
    (412008700030000, "客户等级", ("A级", "B级", "C级", "D级", "VIP")),
    (412008700040000, "渠道", ("官网", "展会", "转介绍", "抖音", "小红书", "企微活码", "百度推广",
                             "线下沙龙")),
    (412008700050000, "城市", ("北京", "上海", "广州", "深圳", "杭州", "成都", "重庆", "武汉", "西安",
                             "南京", "苏州", "天津", "长沙", "郑州", "青岛", "厦门", "宁波", "合肥",
                             "济南", "福州", "昆明", "大连", "沈阳", "哈尔滨", "长春", "石家庄", "太原",
                             "南昌", "南宁", "贵阳")),
)

TAG_GROUPS: list[Json] = [
    {"name": group, "id": group_id, "qwTagId": _qw_tag_id(group),
     "tags": [{"id": group_id + n, "name": name, "qwTagId": _qw_tag_id(name)}
              for n, name in enumerate(names, 1)]}
    for group_id, group, names in _TAG_GROUP_NAMES
]
_TAG_IDS = {tag["name"]: tag["id"] for group in TAG_GROUPS for tag in group["tags"]}


def _tags(*names: str) -> list[str]:
    """tagIds as clue/get sends them: numeric 探马 ids as strings."""
    return [str(_TAG_IDS[name]) for name in names]


def _wecom_tags(*names: str) -> list[str]:
    """The same tags by WeCom qwTagId, which some tenants' clues carry instead."""
    return [_qw_tag_id(name) for name in names]


# ---------------------------------------------------------------- clues (clue/get data)


def _field(key: str, type_: int, value: str | None) -> Json:
    return {"field": key, "type": type_, "valueAsText": value}


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))


def _clue(customer_id: int, name: str | None, *, created: str, updated: str | None = None,
          mobile: Sequence[str] = (), corp: str | None = None, stage: str | None = None,
          source: str | None = None, intention: str | None = None, gender: str | None = None,
          description: str | None = None, address: str | None = None, birthday: str | None = None,
          products: Sequence[str] | str = (), budget: str | None = None, next_follow_up: str | None = None,
          tags: Sequence[str] = (), converted: str | None = None, company: str | None = None,
          is_clue: bool = True, kind: int = 1) -> Json:
    """One clue/get ``data`` object; system fields always present (null when unset), as the CRM sends."""
    fields = [
        _field("customer_source", SELECT, source),
        _field("description", TEXT, description),
        _field("mobile", PHONE, _json_list(mobile) if mobile else None),
        _field("address", TEXT, address),
        _field("birthday", DATE, birthday),
        _field("corp_name", TEXT, corp),
        _field("name", TEXT, name),
        _field("purchase_intention", SELECT, intention),
        _field("gender", SELECT, gender),
        _field("customer_stage", SELECT, stage),
    ]
    if products:
        value = products if isinstance(products, str) else _json_list(products)
        fields.append(_field(str(PRODUCTS_FIELD_ID), MULTISELECT, value))
    if budget is not None:
        fields.append(_field(str(BUDGET_FIELD_ID), NUMBER, budget))
    if next_follow_up is not None:
        fields.append(_field(str(NEXT_FOLLOW_UP_FIELD_ID), DATETIME, next_follow_up))
    clue: Json = {"customerId": customer_id, "isClue": is_clue, "type": kind}
    if converted is not None:
        clue["convertCustomerTime"] = converted
    clue.update({"fields": fields, "tagIds": list(tags), "createTime": created,
                 "lastUpdateTime": updated or created})
    if company is not None:
        clue["companyInfo"] = {"name": company}
    return clue


_LONG_TEXT = (
    "客户为华东地区连锁零售品牌，门店 120 家，会员约 80 万，目前用个人微信加表格管理导购与会员关系，"
    "离职带走客户的问题突出，总部无法统计导购的跟进质量。\n\n"
    "本次沟通重点：\n"
    "1. 希望把导购个人号迁移到企业微信，保留历史聊天记录，并按门店分配客户；\n"
    "2. 需要会话存档满足合规审计，法务要求数据存储在境内并可按手机号检索；\n"
    "3. 营销侧希望按消费频次和客单价自动打标签，节假日前做分层群发，并统计转化；\n"
    "4. 信息部关注与现有 ERP、小程序商城的会员打通，要求提供开放接口文档和沙箱环境；\n"
    "5. 采购流程需走集团招标，预算在第二季度审批，决策人为 CIO 与零售运营副总裁。\n\n"
    "风险：竞品已做过两轮演示并给出较低报价；客户对实施周期敏感，希望 6 周内完成首批 20 家门店上线。"
    "下一步：准备零售行业案例、会话存档合规白皮书与分阶段实施计划，约 CIO 做一次现场汇报，"
    "同时请售前评估 ERP 接口工作量，给出明确的里程碑与验收标准，避免后期范围蔓延。"
    "另需确认门店网络条件与导购手机型号，提前排查企业微信版本兼容问题；培训计划按区域分三批进行，"
    "每批配一名驻场顾问，首月每周复盘一次数据看板，重点看好友通过率、消息回复时长和群发转化率。"
    "客户希望合同中写明数据迁移的责任划分、服务等级协议与违约条款，法务会在下周给出初稿意见。"
    "客户另提出希望先试用两周，试用期间由我方建立专属客服群并每日同步问题清单。"
)

_LONG_DESCRIPTION = "\n".join(
    f"第 {n:03d} 条沟通纪要：客户询问会话存档、客户标签、群发与数据看板的细节，约定下周继续跟进。"
    for n in range(1, 200)
)[:5000]

# Search (issue 15): a dozen 张 whose phones share the prefix 13900130, so "张" and "1390 0130" page.
ZHANG_SEARCH_IDS = tuple(range(101, 113))
_ZHANG_GIVEN = ("三", "三丰", "小明", "小红", "华", "敏", "磊", "静", "强", "丽", "杰", "晓东")
ZHANG_CLUES: list[Json] = [
    _clue(clue_id, "张" + given, mobile=[f"139001300{index:02d}"], corp=f"张氏样板客户{index}号有限公司",
          stage=(STAGE_CONTACT, STAGE_INTENT, STAGE_QUOTE)[index % 3], source=SOURCE_WEB,
          tags=_tags(("A级", "B级", "C级")[index % 3], "北京"), created=f"2025-02-{index + 1:02d} 10:00:00")
    for index, (clue_id, given) in enumerate(zip(ZHANG_SEARCH_IDS, _ZHANG_GIVEN, strict=True))
]

CLUES: list[Json] = [
    # The vendor's clue/get example, verbatim apart from the id (the brief pins it to 8).
    {
        "customerId": DOC_CLUE_ID,
        "isClue": False,
        "type": 1,
        "fields": [
            {"field": "customer_source", "type": 2, "valueAsText": None},
            {"field": "description", "type": 1, "valueAsText": "u 诶IE"},
            {"field": "mobile", "type": 8, "valueAsText": "[\"145678388\"]"},
            {"field": "address", "type": 1, "valueAsText": None},
            {"field": "birthday", "type": 3, "valueAsText": None},
            {"field": "corp_name", "type": 1, "valueAsText": None},
            {"field": "name", "type": 1, "valueAsText": "打马赛克就"},
            {"field": "purchase_intention", "type": 2, "valueAsText": None},
            {"field": "gender", "type": 2, "valueAsText": None},
            {"field": "customer_stage", "type": 2, "valueAsText": "396823724189760"},
        ],
        "tagIds": [],
        "createTime": "2021-05-11 15:15:48",
        "lastUpdateTime": "2021-05-11 15:15:48",
    },
    _clue(RICH_CLUE_ID, "张伟", mobile=["13812345678"], corp="上海云杉信息科技有限公司",
          stage=STAGE_CONTACT, source=SOURCE_WEB, intention=INTENT_HIGH, gender="1",
          description="官网留资，想了解 SCRM 私域运营方案。\n希望下周安排一次线上演示。",
          address="上海市浦东新区张江路 88 号", birthday="1988-06-15",
          products=[PRODUCT_SCRM, PRODUCT_AUTOMATION], budget="30", next_follow_up="2025-03-12 10:00:00",
          tags=_tags("互联网", "A级", "官网", "上海"),
          created="2025-03-03 10:12:45", updated="2025-03-05 16:40:02"),
    _clue(2, "李娜", mobile=["13987654321"], corp="杭州青禾网络科技有限公司",
          stage=STAGE_INTENT, source=SOURCE_EXPO, intention=INTENT_MEDIUM, gender="2",
          description="2024 杭州数字营销展会现场扫码。",
          address="杭州市西湖区文三路 398 号", birthday="1992-11-03", products=[PRODUCT_ARCHIVE],
          tags=_tags("互联网", "B级", "展会", "杭州"), created="2025-02-18 14:22:10"),
    _clue(3, "王芳", mobile=["13700001234"], corp="北方精工机械集团有限公司",
          stage=STAGE_WON, source=SOURCE_REFERRAL, intention=INTENT_HIGH, gender="2",
          description="老客户转介绍，集团统一采购。\n已签约，转客户。",
          address="天津市滨海新区第三大街 51 号", birthday="1985-01-22",
          products=[PRODUCT_SCRM, PRODUCT_ARCHIVE, PRODUCT_CALLS], budget="120.5",
          tags=[*_wecom_tags("央企"), *_tags("制造业", "VIP", "天津")],
          converted="2025-01-20 11:00:00", company="北方精工机械集团有限公司", is_clue=False, kind=2,
          created="2024-11-08 09:30:00", updated="2025-01-20 11:00:00"),
    _clue(4, "刘洋", mobile=["13600001111", "02166668888"], corp="深圳前海微链科技有限公司",
          stage=STAGE_QUOTE, source=SOURCE_TELESALES, intention=INTENT_MEDIUM, gender="1",
          description="两个号码都能联系，座机白天在。",
          address="深圳市南山区科苑南路 3099 号", tags=_tags("金融", "B级", "深圳"),
          created="2025-01-06 15:03:27", updated="2025-02-27 09:18:44"),
    _clue(5, "陈静", mobile=["15800002222"], corp="成都天府智造有限公司",
          stage=STAGE_WON, source=SOURCE_WECOM, intention=INTENT_HIGH, gender="2",
          address="成都市高新区天府大道中段 1388 号", birthday="1990-04-12", products=[PRODUCT_SCRM],
          tags=_tags("制造业", "A级", "企微活码", "成都"),
          converted="2025-02-01 17:45:10", company="成都天府智造有限公司", is_clue=False, kind=2,
          created="2024-12-12 08:55:00", updated="2025-02-01 17:45:10"),
    _clue(6, "Acme Robotics – Jane Doe", mobile=["+1 415 555 0132"], corp="Acme Robotics Inc.",
          stage=STAGE_NEGOTIATION, source=SOURCE_EXPO, intention=INTENT_HIGH, gender="2",
          description="Met at the Shanghai robotics expo.\nWants WeCom archiving for the China sales team.\n"
                      "Decision expected end of quarter.",
          address="500 Howard St, San Francisco, CA 94105", products=[PRODUCT_ARCHIVE, PRODUCT_AUTOMATION],
          budget="45", tags=_tags("外资企业", "制造业", "A级", "展会"), company="Acme Robotics Inc.",
          kind=2, created="2025-02-25 03:14:15", updated="2025-03-04 22:05:39"),
    _clue(7, "John Smith", mobile=["+44 20 7946 0958"], corp="Globex Ltd",
          stage=STAGE_CONTACT, source=SOURCE_WEB, intention=INTENT_LOW, gender="1",
          description="Downloaded the pricing sheet.",
          tags=_tags("外资企业", "C级", "官网"), created="2025-03-01 18:40:00"),
    _clue(LONG_TEXT_CLUE_ID, "杨磊", mobile=["13511112222"], corp="华东优选零售连锁有限公司",
          stage=STAGE_INTENT, source=SOURCE_REFERRAL, intention=INTENT_HIGH, gender="1",
          description=_LONG_TEXT, address="南京市鼓楼区中山北路 200 号",
          products=[PRODUCT_SCRM, PRODUCT_ARCHIVE, PRODUCT_MALL], budget="200",
          next_follow_up="2025-03-10 14:30:00", tags=_tags("零售", "A级", "转介绍", "南京"),
          company="华东优选零售连锁有限公司", kind=2,
          created="2025-02-10 11:11:11", updated="2025-03-06 09:00:00"),
    _clue(10, "赵敏", mobile=["18611113333"], corp="北京知行教育科技有限公司",
          stage=STAGE_QUOTE, source=SOURCE_SEARCH_ADS, intention=INTENT_MEDIUM, gender="2",
          description="暑期招生前要上线。", address="北京市海淀区中关村大街 27 号",
          birthday="1994-08-30", products=[PRODUCT_AUTOMATION],
          tags=_tags("教育", "B级", "百度推广", "北京"),
          created="2025-01-15 13:20:00", updated="2025-02-20 10:00:00"),
    _clue(COMMA_OPTIONS_CLUE_ID, "黄婷", mobile=["13922223333"], corp="广州南粤物流有限公司",
          stage=STAGE_INTENT, source=SOURCE_TELESALES, intention=INTENT_MEDIUM, gender="2",
          products=f"{PRODUCT_SCRM},{PRODUCT_CALLS}", tags=_tags("物流", "B级", "广州"),
          created="2025-02-02 16:16:16"),
    _clue(12, "周杰", mobile=["13033334444"], corp="武汉光谷新能源有限公司",
          stage=STAGE_CONTACT, source=SOURCE_WECOM, intention=INTENT_LOW, gender="1",
          description="通过企微活码添加。", tags=[*_tags("能源"), *_wecom_tags("C级", "企微活码")],
          created="2025-03-04 08:08:08"),
    _clue(AWAITING_ASSIGNMENT_CLUE_ID, "吴强", mobile=["13144445555"], corp="西安秦川汽车配件有限公司",
          stage=STAGE_LOST, source=SOURCE_EXPO, intention=INTENT_LOW, gender="1",
          description="预算不足，选择了竞品。\n半年后可再联系。", tags=_tags("汽车", "D级", "西安"),
          is_clue=False, created="2024-06-18 14:00:00", updated="2024-12-30 18:00:00"),
    _clue(COMPANY_ONLY_CLUE_ID, "徐丽", mobile=["13255556666"],
          stage=STAGE_CONTACT, source=SOURCE_WEB, gender="2", tags=_tags("医疗健康", "苏州"),
          company="苏州康宁医疗器械有限公司", kind=2, created="2025-03-02 09:45:00"),
    _clue(15, "孙浩", mobile=["15066667777"], corp="青岛海湾食品有限公司",
          stage=STAGE_INTENT, source=SOURCE_EXPO, intention=INTENT_MEDIUM, gender="1",
          address="青岛市市南区香港中路 10 号", birthday="1987-02-14",
          tags=_tags("餐饮", "B级", "展会", "青岛"), created="2025-01-28 10:30:00"),
    _clue(16, "马超", mobile=["15177778888"], corp="郑州中原置业有限公司",
          stage=STAGE_QUOTE, source=SOURCE_REFERRAL, intention=INTENT_HIGH, gender="1",
          products=[PRODUCT_CALLS], budget="60", tags=_tags("房地产", "A级", "转介绍", "郑州"),
          created="2024-12-20 15:00:00", updated="2025-02-14 11:30:00"),
    _clue(17, "朱琳", mobile=["15288889999"], corp="厦门鹭岛文旅发展有限公司",
          stage=STAGE_CONTACT, source=SOURCE_SEARCH_ADS, intention=INTENT_LOW, gender="2",
          description="只想先看看报价。", tags=_tags("C级", "厦门"), created="2025-03-05 20:20:20"),
    _clue(18, "胡斌", mobile=["15399990000"], corp="合肥科讯电子有限公司",
          stage=STAGE_NEGOTIATION, source=SOURCE_TELESALES, intention=INTENT_HIGH, gender="1",
          products=[PRODUCT_SCRM, PRODUCT_CALLS], budget="85", next_follow_up="2025-03-08 09:30:00",
          tags=_tags("制造业", "A级", "合肥"), created="2025-01-09 09:00:00", updated="2025-03-03 17:00:00"),
    _clue(19, "郭晶", mobile=["15500001111"], corp="长沙湘江传媒有限公司",
          stage=STAGE_INTENT, source=SOURCE_WECOM, intention=INTENT_MEDIUM, gender="2",
          tags=_tags("抖音", "小红书", "长沙"), created="2025-02-22 12:12:12"),
    _clue(20, "何军", mobile=["15611112222"], corp="重庆山城摩托车制造有限公司",
          stage=STAGE_CONTACT, source=SOURCE_EXPO, gender="1",
          tags=_tags("汽车", "制造业", "重庆"), created="2025-02-26 10:00:00"),
    _clue(21, "高峰", mobile=["15722223333"], corp="济南泉城政务服务中心",
          stage=STAGE_QUOTE, source=SOURCE_REFERRAL, intention=INTENT_MEDIUM, gender="1",
          description="需走政府采购流程。", tags=_tags("事业单位", "政务", "济南"), kind=2,
          created="2024-11-30 09:00:00", updated="2025-01-10 09:00:00"),
    _clue(22, "林小红", mobile=["15833334444"], corp="福州闽江茶业有限公司",
          stage=STAGE_INTENT, source=SOURCE_WECOM, intention=INTENT_MEDIUM, gender="2",
          birthday="1996-09-09", tags=_tags("零售", "B级", "福州"), created="2025-02-12 14:14:14"),
    _clue(23, "罗梅", mobile=["15944445555"], corp="昆明彩云花卉有限公司",
          stage=STAGE_CONTACT, source=SOURCE_SEARCH_ADS, intention=INTENT_LOW, gender="0",
          tags=_tags("零售", "昆明"), created="2025-03-06 07:30:00"),
    _clue(24, "María José García", mobile=["+34 612 345 678"], corp="Logística Ibérica S.L.",
          stage=STAGE_INTENT, source=SOURCE_EXPO, intention=INTENT_MEDIUM, gender="2",
          description="Interesada en la gestión de clientes por WeCom.",
          tags=_tags("外资企业", "物流", "展会"), company="Logística Ibérica S.L.", kind=2,
          created="2025-02-19 11:00:00"),
    _clue(25, "Initech – Peter Gibbons", mobile=["+1 512 555 0199"], corp="Initech LLC",
          stage=STAGE_LOST, source=SOURCE_WEB, intention=INTENT_LOW, gender="1",
          description="TPS reports first, CRM later.", tags=_tags("外资企业", "D级", "官网"),
          created="2024-09-01 09:00:00", updated="2024-10-01 09:00:00"),
    _clue(26, "Sean O'Brien", mobile=["+353 1 555 0100"], corp="O'Brien Logistics",
          stage=STAGE_CONTACT, source=SOURCE_REFERRAL, gender="1",
          tags=_tags("物流", "转介绍"), created="2025-03-01 12:00:00"),
    _clue(27, "Priya Patel", mobile=["+91 98765 43210"], corp="Lotus Health Pvt Ltd",
          stage=STAGE_INTENT, source=SOURCE_WEB, intention=INTENT_HIGH, gender="2",
          products=[PRODUCT_AUTOMATION], budget="25", tags=_tags("医疗健康", "外资企业", "A级"),
          created="2025-02-28 06:45:00"),
    _clue(28, "欧阳明月", mobile=["17700001111"], corp="大连海韵船舶设备有限公司",
          stage=STAGE_NEGOTIATION, source=SOURCE_TELESALES, intention=INTENT_HIGH, gender="2",
          address="大连市中山区人民路 68 号", tags=_tags("制造业", "国企", "VIP", "大连"), kind=2,
          created="2024-12-01 10:00:00", updated="2025-03-02 15:30:00"),
    _clue(MANY_TAGS_CLUE_ID, "钱多多（60 个标签）", mobile=["18800006060"], corp="全国连锁样板客户有限公司",
          stage=STAGE_INTENT, source=SOURCE_REFERRAL, intention=INTENT_HIGH, gender="1",
          tags=_tags(*_TAG_IDS), created="2025-01-01 00:00:00", updated="2025-03-01 00:00:00"),
    _clue(HOSTILE_CLUE_ID, "<!channel> *bold* <https://evil.example|click>", mobile=["13800138000"],
          corp="<script>alert(1)</script> & Sons", stage=STAGE_CONTACT, source=SOURCE_WEB, gender="1",
          description=("R&D budget < 100k & > 50k\u200b\u200b; zero\u200dwidth\u2060joiner\ufeff\n"
                       "```rm -rf /``` and `inline code` <@U0123ABC> <!here> &amp; &lt;b&gt;"),
          address="_italic_ ~strike~\n> quoted <#C0123|general>", tags=_tags("互联网"),
          company="<!everyone> Evil Corp", created="2025-03-06 06:06:06"),
    _clue(UNKNOWN_TAG_CLUE_ID, "钱进", mobile=["13677778888"], corp="宁波港城贸易有限公司",
          stage=STAGE_INTENT, source=SOURCE_EXPO, gender="1",
          tags=[*_tags("零售", "宁波"), UNKNOWN_TAG_ID], created="2025-02-08 08:00:00"),
    _clue(UNKNOWN_OPTION_CLUE_ID, "孔明亮", mobile=["13588889999"], corp="沈阳北方重工有限公司",
          stage=UNKNOWN_STAGE_OPTION_ID, source=SOURCE_TELESALES, gender="1",
          tags=_tags("制造业", "沈阳"), created="2025-02-09 09:00:00"),
    {
        "customerId": SPARSE_CLUE_ID,
        "isClue": True,
        "type": 1,
        "fields": [
            {"field": "name", "type": 1, "valueAsText": None},
            {"field": "mobile", "type": 8, "valueAsText": "[\"13900000099\"]"},
        ],
        "tagIds": [],
        "createTime": "2025-03-06 12:00:00",
        "lastUpdateTime": "2025-03-06 12:00:00",
    },
    _clue(LONG_DESCRIPTION_CLUE_ID, "长描述测试", mobile=["13000005000"], corp="长文本有限公司",
          stage=STAGE_CONTACT, description=_LONG_DESCRIPTION, tags=_tags("教育"),
          created="2025-01-05 05:00:00"),
    _clue(LONG_ID_CLUE_ID, "宋佳怡", mobile=["18912345678"], corp="苏州工业园区智联科技有限公司",
          stage=STAGE_NEGOTIATION, source=SOURCE_WECOM, intention=INTENT_HIGH, gender="2",
          description="企微活码添加，已做两次演示。\n关注会话存档合规。",
          address="苏州市工业园区星湖街 328 号", birthday="1991-07-07",
          products=[PRODUCT_ARCHIVE, PRODUCT_SCRM], budget="75", next_follow_up="2025-03-11 15:00:00",
          tags=_tags("互联网", "A级", "企微活码", "苏州"),
          created="2024-12-24 10:24:00", updated="2025-03-05 18:30:00"),
    _clue(410983932389512, "唐晓峰", mobile=["18923456789"], corp="太原晋阳煤化工有限公司",
          stage=STAGE_CONTACT, source=SOURCE_SEARCH_ADS, intention=INTENT_LOW, gender="1",
          tags=_tags("能源", "国企", "太原"), kind=2, created="2025-03-06 16:00:00"),
    *ZHANG_CLUES,
]

# ---------------------------------------------------------------- follow-ups (clue/list-follow-up)

_ZHANG_SAN = {"qwUserId": "ZhangSan", "name": "张三"}
_LI_SI = {"qwUserId": "LiSi", "name": "李四"}
_WANG_WU = {"qwUserId": "WangWu", "name": "王五"}
_EMILY = {"qwUserId": "EmilyChen", "name": "Emily Chen"}

FREE_TEXT, SYSTEM_TEXT = 1, 2

_LONG_ID_NOTES = (
    (FREE_TEXT, "电话沟通需求，客户关注会话存档的合规要求。", _ZHANG_SAN),
    (SYSTEM_TEXT, "客户阶段由「意向明确」变更为「商务谈判」", _ZHANG_SAN),
    (FREE_TEXT, "发送了产品白皮书和报价单。", _LI_SI),
    (SYSTEM_TEXT, "添加了标签「A级」", _LI_SI),
    (FREE_TEXT, "客户 IT 部门询问私有化部署方案。\n已约下周二技术交流。", _WANG_WU),
)


def _follow_up(number: int, type_: int, content: str, operator: Json, created: str) -> Json:
    return {"id": 430000000000000 + number, "type": type_, "content": content, "createTime": created,
            "operator": dict(operator)}


# Newest first, as the CRM lists them.
FOLLOW_UPS: dict[int, list[Json]] = {
    RICH_CLUE_ID: [
        _follow_up(101, FREE_TEXT, "已加企微，约了周三下午线上演示。", _ZHANG_SAN, "2025-03-05 16:40:02"),
        _follow_up(102, SYSTEM_TEXT, "线索由「李四」分配给「张三」", _LI_SI, "2025-03-04 09:00:00"),
        _follow_up(103, FREE_TEXT, "官网留资回访，客户在开会，稍后再打。", _LI_SI, "2025-03-03 11:20:00"),
    ],
    3: [
        _follow_up(301, SYSTEM_TEXT, "线索已转为客户", _WANG_WU, "2025-01-20 11:00:00"),
        _follow_up(302, FREE_TEXT, "合同已盖章回寄。", _WANG_WU, "2025-01-18 15:30:00"),
    ],
    6: [_follow_up(601, FREE_TEXT, "Demo went well; legal review of the DPA next.", _EMILY,
                   "2025-03-04 22:05:39")],
    DOC_CLUE_ID: [_follow_up(801, FREE_TEXT, "u 诶IE", _ZHANG_SAN, "2021-05-11 15:20:00")],
    HOSTILE_CLUE_ID: [
        _follow_up(6601, FREE_TEXT, "<!here> please call back *now* <https://evil.example|here> `x`", _LI_SI,
                   "2025-03-06 06:10:00"),
    ],
    LONG_ID_CLUE_ID: [
        _follow_up(4400 + n, *_LONG_ID_NOTES[n % len(_LONG_ID_NOTES)],
                   f"2025-03-{5 - n // 10:02d} {18 - n % 10:02d}:30:00")
        for n in range(25)
    ],
}


# ---------------------------------------------------------------- new leads (alerts)

NEW_LEAD_FIRST_ID = 900_001  # leads added while the sandbox runs ("a new lead arrives") count up from here
NEW_LEAD_LAST_ID = 1_900_000
_NEW_LEAD_ROTATION = (
    # (stage, source, tags): varied so subscription filters have something to pick from
    (STAGE_CONTACT, SOURCE_WEB, ("官网", "A级")),
    (STAGE_INTENT, SOURCE_EXPO, ("展会", "VIP")),
    (STAGE_CONTACT, SOURCE_WECOM, ("企微活码",)),
    (STAGE_QUOTE, SOURCE_REFERRAL, ("转介绍", "B级")),
)


def new_lead(customer_id: int, created: str) -> Json:
    """A fresh lead as clue/get would return it, created at ``created`` (CRM time text)."""
    n = customer_id - NEW_LEAD_FIRST_ID
    stage, source, tags = _NEW_LEAD_ROTATION[n % len(_NEW_LEAD_ROTATION)]
    return _clue(customer_id, f"新线索 {n + 1}", created=created, mobile=(f"1390099{n % 10000:04d}",),
                 corp=f"示例公司 {n + 1}", stage=stage, source=source, tags=_tags(*tags))

# ---------------------------------------------------------------- owners (customer/search rows)

# Sales relationships per clue, as customer/search rows show them (crm-api.md section 7): one row per
# relationship, each with its ``mainFollows`` (负责人) and department names. The rich clue has two (so
# it comes back as two rows); a clue awaiting assignment has one row without ``mainFollows``; any other
# clue one owner, in turn.
_SALES = (
    ({"salesName": "张三", "qwSalesId": "ZhangSan"}, "华东销售部"),
    ({"salesName": "李四", "qwSalesId": "LiSi"}, "华北销售部"),
    ({"salesName": "王五", "qwSalesId": "WangWu"}, "大客户部"),
)
RICH_CLUE_OWNERS = ("张三", "李四")
SPARSE_CLUE_NICKNAME = "微信用户 99"  # the sparse clue has no name: its search rows carry a WeChat nickname


def _relationship(follow: Json, department: str) -> Json:
    return {"mainFollows": [dict(follow)], "followDeptNames": [department]}


def sales_rows(clue: Json) -> list[Json]:
    """The extra keys of each customer/search row of ``clue``: one dict per sales relationship."""
    clue_id = clue["customerId"]
    if clue_id == RICH_CLUE_ID:
        return [_relationship(*_SALES[0]), _relationship(*_SALES[1])]
    if clue.get("isClue") is False and "convertCustomerTime" not in clue:
        return [{"mainFollows": [], "followDeptNames": []}]  # 待分配: nobody follows it yet
    if clue_id == SPARSE_CLUE_ID:
        return [{**_relationship(*_SALES[2]), "wechatNickname": SPARSE_CLUE_NICKNAME}]
    return [_relationship(*_SALES[clue_id % len(_SALES)])]


# ---------------------------------------------------------------- employees (get-users)

# The CRM users behind ``_SALES``, as get-users lists them: ``salesId`` and ``name`` are all the vendor
# publishes (crm-api.md section 7a), so that is all the seed carries; a test that needs the e-mail or mobile
# some tenants may send sets them (``SandboxState.set_employees``). The sandbox reads a row's owner back to its
# salesId by the follow's ``salesName``.
EMPLOYEES: tuple[Json, ...] = tuple({"salesId": sales_id, "name": follow["salesName"]}
                                    for sales_id, (follow, _) in zip(("1001", "1002", "1003"), _SALES, strict=True))

# ---------------------------------------------------------------- a sales floor (the bench's people scenario)

# Added while the sandbox runs (``/_sandbox/staff``): employees as get-users lists them (``salesId``, ``name``,
# nothing unpublished, so they are linked by an admin), each owning clues of their own, shaped like the seed's.
STAFF_FIRST_SALES_ID = 20_001
STAFF_CLUE_FIRST_ID = 2_000_001  # after the new leads' ids
STAFF_CLUE_LAST_ID = 3_000_000


def staff_member(n: int) -> Json:
    """The ``n``-th added employee (from 0), as get-users lists one."""
    return {"salesId": str(STAFF_FIRST_SALES_ID + n), "name": f"销售 {n + 1:05d}"}


def staff_clue(customer_id: int, owner: Json, *, created: str, next_follow_up: str) -> Json:
    """A clue ``owner`` (a ``staff_member``) follows, created at ``created``, next due at ``next_follow_up``."""
    n = customer_id - STAFF_CLUE_FIRST_ID
    stage, source, tags = _NEW_LEAD_ROTATION[n % len(_NEW_LEAD_ROTATION)]
    return _clue(customer_id, f"{owner['name']} 的客户 {n + 1}", created=created, mobile=(f"1370077{n % 10000:04d}",),
                 corp=f"客户公司 {n + 1}", stage=stage, source=source, tags=_tags(*tags), next_follow_up=next_follow_up)


def staff_sales_row(owner: Json) -> Json:
    """The customer/search row keys of a clue ``owner`` follows (one sales relationship)."""
    return _relationship({"salesName": owner["name"], "qwSalesId": f"Sales{owner['salesId']}"}, "销售部")
