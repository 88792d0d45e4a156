"""The sandbox CRM's web page of a clue, ``GET /clues/{id}``: where a card's Open in CRM button lands in the
playground (``CLUE_URL_TEMPLATE``).

A stand-in for the CRM's own clue page, read-only and minimal: the clue's raw fields under their
list-fields names (option ids as option names, tags by name) and its follow-ups. Every value is
HTML-escaped; the page has no script, no style and nothing from elsewhere (its CSP says so), and phones
are masked because it asks nobody to log in.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.dev.sandbox import seed
from bot.domain.text import mask_phone

CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_SELECTS = (seed.SELECT, seed.MULTISELECT)


def clue_page(clue: Mapping[str, Any], fields: Sequence[Mapping[str, Any]], tag_groups: Sequence[Mapping[str, Any]],
              follow_ups: Sequence[Mapping[str, Any]]) -> str:
    """The page of one clue (clue/get ``data``), with the definitions, tag tree and follow-ups it refers to."""
    values = {str(f.get("field")): f.get("valueAsText") for f in clue.get("fields") or () if isinstance(f, Mapping)}
    name = values.get("name") or f"Clue {clue.get('customerId')}"
    rows = [(_label(key, fields), _value(key, value, fields)) for key, value in values.items()
            if key != "name" and value]
    tags = {str(tag[k]): str(tag["name"]) for group in tag_groups for tag in group["tags"] for k in ("id", "qwTagId")}
    rows.append(("标签 Tags", "、".join(tags.get(str(t), str(t)) for t in clue.get("tagIds") or ()) or "—"))
    rows += [("创建时间 Created", str(clue.get("createTime") or "—")),
             ("更新时间 Updated", str(clue.get("lastUpdateTime") or "—"))]
    items = "".join(f"<li><b>{_e(item.get('createTime'))}</b> {_e((item.get('operator') or {}).get('name'))}: "
                    f"{_lines(item.get('content'))}</li>" for item in follow_ups)
    return (f'<!doctype html>\n<html lang="zh"><head><meta charset="utf-8"><title>{_e(name)} · Sandbox CRM</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
            f"<p>Sandbox CRM (探马 SCRM stand-in) · clue {_e(clue.get('customerId'))} · read-only</p>"
            f"<h1>{_e(name)}</h1><dl>"
            + "".join(f"<dt>{_e(label)}</dt><dd>{_lines(value)}</dd>" for label, value in rows)
            + f"</dl><h2>跟进记录 Follow-ups</h2><ol>{items or '<li>—</li>'}</ol></body></html>\n")


def missing_page(clue_id: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Not found · Sandbox CRM</title>'
            f"</head><body><h1>No clue {_e(clue_id)}</h1></body></html>\n")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _lines(value: object) -> str:
    return _e(value).replace("\n", "<br>")


def _definition(key: str, fields: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    field_id = seed.FIELD_IDS_BY_KEY.get(key, int(key) if key.isdigit() else None)
    return next((d for d in fields if d.get("id") == field_id), None)


def _label(key: str, fields: Sequence[Mapping[str, Any]]) -> str:
    definition = _definition(key, fields)
    return str(definition["name"]) if definition else key


def _value(key: str, value: str, fields: Sequence[Mapping[str, Any]]) -> str:
    """Option ids as their names, phones masked; anything else as the CRM stores it."""
    definition = _definition(key, fields)
    kind = definition.get("type") if definition else None
    if kind == seed.PHONE:
        return "、".join(mask_phone(phone) for phone in _list(value))
    if kind in _SELECTS and definition is not None:
        names = {str(item["id"]): str(item["name"]) for item in definition.get("items") or ()}
        return "、".join(names.get(option, option) for option in _list(value))
    return value


def _list(value: str) -> list[str]:
    """A JSON array of strings, a comma list, or one value: the three ways the CRM writes several values."""
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = value.split(",")
    return [str(v) for v in decoded] if isinstance(decoded, list) else [str(decoded)]
