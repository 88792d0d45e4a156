"""``Clue.has_unknown_ids``: what makes a fetched clue worth reloading the reference data for."""

from __future__ import annotations

from bot.domain.clue import Clue, FieldView, TagView


def test_a_clue_with_every_id_known_has_none_unknown() -> None:
    clue = Clue(id=1, stage=FieldView(key="customer_stage", label="阶段", text="赢单", kind=2),
                tags=(TagView(id="t1", name="VIP"),))
    assert not clue.has_unknown_ids


def test_an_unknown_tag_or_option_anywhere_on_the_card_counts() -> None:
    unknown_option = FieldView(key="91650", label="意向产品", text="zz", kind=3, unresolved=("zz",))
    assert Clue(id=1, tags=(TagView(id="t1", name="VIP"), TagView(id="t9", name=None))).has_unknown_ids
    assert Clue(id=1, other_fields=(unknown_option,)).has_unknown_ids
    assert Clue(id=1, gender=FieldView(key="gender", label=None, text="7", kind=2, unresolved=("7",))).has_unknown_ids
