"""customer/search rows as the public clients read them (crm-api.md section 7; #21 item 10): no ``name`` key,
the name under the 姓名 field's numeric id, else ``qwRemark``, else ``wechatNickname``; one row per sales
relationship, merged by ``customerId``; the owners in ``mainFollows``."""

from __future__ import annotations

from bot.crm.models import MAX_SEARCH_HITS, RowFields, owner_of, parse_search
from bot.domain.owner import Owner

NAME_FIELD, PHONE_FIELD, COMPANY_FIELD = "91631", "91632", "91633"
FIELDS = RowFields(name=(NAME_FIELD,), phone=(PHONE_FIELD,), company=(COMPANY_FIELD,))


def test_names_come_from_the_name_field_then_the_wecom_remark_then_the_nickname() -> None:
    page = parse_search({"totalPage": 1, "data": [
        {"customerId": 1, NAME_FIELD: "张伟", "qwRemark": "张总", "wechatNickname": "Zhang"},
        {"customerId": 2, NAME_FIELD: None, "qwRemark": "李经理", "wechatNickname": "Li"},
        {"customerId": 3, NAME_FIELD: " ", "wechatNickname": "微信用户"},
        {"customerId": 4, "name": "a key no source shows"},
    ]}, FIELDS)
    assert [hit.name for hit in page.hits] == ["张伟", "李经理", "微信用户", None]
    # Without reference data (list-fields failed), the remark still names the row.
    assert parse_search({"data": [{"customerId": 1, NAME_FIELD: "张伟", "qwRemark": "张总"}]}).hits[0].name == "张总"


def test_rows_of_one_customer_merge_their_owners() -> None:
    page = parse_search({"totalPage": 1, "data": [
        {"customerId": 1, NAME_FIELD: "张伟", "mainFollows": [{"salesName": "张三", "qwSalesId": "ZhangSan"}],
         "followDeptNames": ["华东销售部"]},
        {"customerId": 2, "mainFollows": []},
        {"customerId": 1, "mainFollows": [{"salesName": "李四"}, {"qwSalesId": "WangWu"}, "junk"],
         "salesDeptNames": "华北销售部, 华东销售部"},
        {"customerId": 1, "mainFollows": [{"salesName": "张三"}]},
    ]}, FIELDS)
    assert [hit.customer_id for hit in page.hits] == [1, 2]
    assert page.hits[0].name == "张伟"
    assert owner_of(page, 1) == Owner(("张三", "李四", "WangWu"), ("华东销售部", "华北销售部"))
    assert owner_of(page, 2) == Owner()  # a row without mainFollows: awaiting assignment
    assert owner_of(page, 3) is None  # no row: nobody knows


def test_an_oversized_answer_keeps_its_first_customers_whole() -> None:
    rows = [{"customerId": n + 1} for n in range(MAX_SEARCH_HITS + 5)]
    rows.append({"customerId": 1, "mainFollows": [{"salesName": "张三"}]})
    page = parse_search({"data": rows})
    assert len(page.hits) == MAX_SEARCH_HITS
    assert owner_of(page, 1) == Owner(("张三",))


def test_phone_and_company_come_from_their_fields_in_the_row() -> None:
    """#21 item 11: the masked phone and the company from the row itself, keyed by their field ids."""
    page = parse_search({"data": [
        {"customerId": 1, PHONE_FIELD: '["13900130000", "13800138000"]', COMPANY_FIELD: "北京星辰科技"},
        {"customerId": 2, PHONE_FIELD: ["13700137000"], COMPANY_FIELD: " "},
        {"customerId": 3, PHONE_FIELD: "13600136000"},
        {"customerId": 4, PHONE_FIELD: None, COMPANY_FIELD: None, "mobile": "13500135000", "corpName": "x"},
    ]}, FIELDS)
    assert [(hit.phone, hit.company) for hit in page.hits] == [
        ("13900130000", "北京星辰科技"), ("13700137000", None), ("13600136000", None), (None, None)]
    assert parse_search({"data": [{"customerId": 1, PHONE_FIELD: "13900130000"}]}).hits[0].phone is None
