"""Every user-facing string of clue bot, in English, Simplified Chinese and Traditional Chinese.

Templates are Slack mrkdwn, already escaped where they contain ``<`` or ``>``; ``t`` fills them with
``str.format``, so arguments must be escaped by the caller (``cards.notice_message`` does that).
Button labels and titles carry no markup and are also used as plain_text.

Its size: it is data, one table per locale (en, zh, zh-TW), every key in each.
"""

from __future__ import annotations

from bot.domain.locales import LOCALES

_EN: dict[str, str] = {
    # Field labels
    "field.stage": "Stage",
    "field.source": "Source",
    "field.company": "Company",
    "field.owner": "Owner",
    "field.purchase_intention": "Purchase intention",
    "field.phone": "Phone",
    "field.converted": "Converted",
    "field.gender": "Gender",
    "field.tags": "Tags",
    "field.description": "Description",
    "field.address": "Address",
    "field.birthday": "Birthday",
    # Times
    "time.created": "Created",
    "time.updated": "Updated",
    "time.converted": "Converted",
    "freshness": "Checked {checked}",
    "freshness.updated": "Checked {checked} · updated {updated}",
    "freshness.stale": "Updated {updated}",
    "stale": "⚠️ *CRM unreachable, last checked {when}*",
    # Values
    "value.yes": "Yes",
    "value.no": "No",
    "value.lead": "Lead",
    "value.awaiting_assignment": "Awaiting assignment",
    "owner.unassigned": "Unassigned",
    "clue.converted": "✅ Converted to customer",
    "value.unknown_option": "unknown option",
    "value.unknown_option_id": "unknown option ({value})",
    "list.separator": ", ",
    "value.more": "+{count} more",
    "tags.unknown.one": "+{count} unknown tag",
    "tags.unknown.other": "+{count} unknown tags",
    # The CRM does not document clue types; 1 and 2 are read as individual and enterprise.
    "kind.1": "Individual",
    "kind.2": "Enterprise",
    "kind.other": "Other type",
    "kind.other_code": "Other type ({kind})",
    "clue.title": "Clue {id}",
    "clue.id": "ID `{id}`",
    "shared_by": "Shared by {user}",
    "list.summary": "Clues ({count})",
    # Buttons
    "button.open": "Open in CRM",
    "button.refresh": "Refresh",
    "button.share": "Share to channel",
    "button.reveal": "Reveal phone",
    # Work Objects (unfurl entity and flexpane)
    "entity.display_type": "Clue",
    "field.next_follow_up": "Next follow-up",
    "entity.overdue": "Overdue",
    "entity.follow_ups": "Follow-ups",
    "entity.no_follow_ups": "No follow-ups yet",
    "entity.data_as_of": "CRM unreachable, last checked",
    "entity.rate_limited_title": "Too many lookups",
    # Per-clue errors in a list card, keyed like the notices
    "reason.not_found": "not found",
    "reason.unknown": "an unexpected problem, try again later",
    "reason.crm_unavailable": "the CRM is not responding, try again in a minute",
    "reason.crm_auth": "the CRM rejected our signature",
    "reason.crm_clock": "the CRM rejected our clock",
    "reason.crm_error": "the CRM gave an unexpected answer",
    # Why an id was refused (codes from bot/slack/links.py)
    "invalid_reason.not_a_number": "it is not a number",
    "invalid_reason.too_long": "the number is too long",
    "invalid_reason.zero": "clue ids start at 1",
    "invalid_reason.text_too_long": "the command is too long",
    "invalid_reason.not_a_clue_link": "the link does not point to a clue",
    # Which access rule refused (codes from bot/slack/access.py)
    "rule.workspace": "this workspace is not allowed",
    "rule.user": "you are not on the allow list",
    "rule.channel": "not enabled in this channel",
    "rule.unfurl_channel": "link previews are off in this channel",
    "rule.shared_channel": "this channel is shared with another organisation",
    "rule.conversation_hidden": "the app is not in this conversation",
    "rule.direct_message_hidden": "the app cannot see this direct message",
    "notice.conversation_hidden": (
        "Can't show this card to the conversation: the app is not in it, so it can't tell whether people from "
        "another organisation would see the card. Add the app to the conversation (conversation details › "
        "Integrations › Add apps), or share from a channel the app is in."
    ),
    "notice.direct_message_hidden": (
        "Can't show this card in this direct message: the app can't see it, so it can't tell whether someone "
        "from another organisation is in it. Share from a channel the app is in, or add the app to this "
        "conversation."
    ),
    # Notices
    "notice.invalid_id": "`{text}` is not a clue id: {reason}. Try `/clue help`.",
    "notice.too_many": "You can look up at most {max_ids} clues at once.",
    "notice.not_found": "Clue {id} was not found in the CRM. Check the id and try again.",
    "notice.crm_unavailable": "The CRM is not responding right now. Try again in a minute.",
    "notice.crm_auth": (
        "The CRM rejected our request signature. Ask your admin to check `CRM_APP_ID` and `CRM_APP_KEY`."
    ),
    "notice.crm_clock": "The CRM rejected our request time. Ask your admin to check the server clock.",
    "notice.crm_error": (
        "The CRM gave an unexpected answer. Try again later; if it keeps happening, tell your admin."
    ),
    "notice.rate_limited": "You're looking up clues too fast. Try again in {seconds}s.",
    "notice.answer_follows": "Clue {id}: the CRM is slow to answer, so the card comes as a message of its own.",
    "notice.not_allowed": "Clue cards are not allowed here ({rule}). Ask {contact} if you need access.",
    "notice.internal_error": "Something went wrong on our side. It has been logged; please try again.",
    # Search
    "notice.search_refused": (
        "Nothing to search for: {why}. Try `/clue find 张三` or `/clue find 138 0013 8000`."
    ),
    "search_reason.empty": "type a name or a phone number after `find`",
    "search_reason.nothing_searchable": "the text has no letters, Chinese characters or digits",
    "search_reason.too_short": "type at least 2 letters, or 1 Chinese character",
    "search_reason.too_few_digits": "a phone search needs at least 8 digits (a whole number, or most of one)",
    "search_reason.too_long": "the text is too long (names and phones are short)",
    "notice.search_none": (
        "No clues match “{query}”. Check the spelling, try part of the name or the phone, or look a clue up "
        "by its id (`/clue help`)."
    ),
    "search.option_unavailable": "The CRM is slow or unreachable right now: try again in a moment",
    "notice.search_page_gone": "There is no page {page} for “{query}” any more. Search again from the start.",
    "notice.searching": "The CRM is slow to answer, so the results come as a message of their own.",
    "search.summary": "Clues matching “{query}”: page {page} of {pages}",
    "search.summary_one_page": "Clues matching “{query}”",
    "search.too_many": (
        "Many clues match: showing the first pages. Add more of the name or the phone to narrow it down."
    ),
    "button.show": "Show",
    "button.next": "Next",
    "button.previous": "Previous",
    "button.find": "Find a clue",
    "modal.title": "Find a clue",
    "modal.label": "Name or phone",
    "modal.placeholder": "Type at least 2 characters",
    "modal.hint": "Pick a clue to see its card here. Only you see it.",
    # Lead summary, follow-ups and the modals
    "overdue.by": "overdue by {duration}",
    "duration.days.one": "{count} day",
    "duration.days.other": "{count} days",
    "duration.hours.one": "{count} hour",
    "duration.hours.other": "{count} hours",
    "duration.minutes.one": "{count} minute",
    "duration.minutes.other": "{count} minutes",
    "activity.latest": "Latest follow-up",
    "activity.none": "No follow-ups yet",
    "activity.unavailable": "_Latest follow-up not shown: the CRM did not answer in time._",
    "activity.stale": "_(the CRM is unreachable: may be out of date)_",
    "follow_up.kind.1": "Note",
    "follow_up.kind.2": "System",
    "follow_up.kind.other": "Other",
    "follow_up.no_operator": "Unknown",
    "button.details": "More details",
    "button.follow_ups": "Follow-ups",
    "button.load_more": "Load more",
    "modal.details.title": "Clue details",
    "modal.follow_ups.title": "Follow-ups",
    "modal.close": "Close",
    "modal.loading": "Loading…",
    "modal.follow_ups.empty": "No follow-ups yet.",
    "modal.follow_ups.end": "That is all of them.",
    "modal.follow_ups.capped": "Showing the newest {count}; open the CRM for older ones.",
    "modal.follow_ups.failed": "⚠️ The CRM did not return the follow-ups. Try again in a minute.",
    "row.latest_follow_up": "Latest follow-up {when}",
    "row.updated": "Updated {when}",
    "row.created": "Created {when}",
    # Alerts (issue 22)
    "rule.subscriber": "you are not on the list of people who may subscribe channels",
    "notice.subscribed": (
        "Subscribed: {what} will be posted in this channel. `/clue subscriptions` lists this channel's alerts; "
        "`/clue unsubscribe {number}` stops this one."
    ),
    "notice.subscriptions_none": (
        "This channel has no clue alerts. `/clue subscribe` posts every new clue here; filters narrow it, "
        "e.g. `/clue subscribe stage:意向明确 tag:VIP` (keys: `stage`, `source`, `tag`)."
    ),
    "notice.subscriptions": "*Clue alerts in this channel*\n{lines}\n`/clue unsubscribe &lt;n&gt;` stops one.",
    "notice.unsubscribed": "Stopped alert {number} in this channel ({what}).",
    "notice.unsubscribe_unknown": "This channel has no alert {number}. `/clue subscriptions` lists them.",
    "notice.unsubscribe_usage": "Say which alert to stop: `/clue unsubscribe 1` (numbers from `/clue subscriptions`).",
    "notice.bad_filter": (
        "`{text}` is not a filter. Use `stage:`, `source:` or `tag:` followed by a name, "
        "e.g. `/clue subscribe stage:意向明确 tag:VIP`."
    ),
    "notice.subscribe_refused": "You can't subscribe this channel to clue alerts: {rule}. Ask {contact}.",
    "notice.not_in_channel": (
        "I'm not a member of this channel, so I can't post alerts here. Add me (`/invite @clue bot`, or the "
        "channel's settings → Integrations → Add apps), then `/clue subscribe` again."
    ),
    "notice.alerts_unavailable": (
        "Clue alerts are not available right now (the alerts database does not answer). Lookups still work; "
        "try again in a minute."
    ),
    "alerts.every_clue": "every new clue",
    "alerts.matching": "new clues matching {filters}",
    "alerts.disabled": "stopped: {reason}",
    "alerts.reason.not_in_channel": "I was removed from the channel",
    "alerts.reason.channel_not_found": "the channel is gone or I cannot see it",
    "alerts.reason.is_archived": "the channel was archived",
    "alert.new": "New clue",
    "alert.digest": "{count} new clues",
    "alert.digest_more": "+{count} more: open the CRM to see them all.",
    "alert.stopped": (
        "Clue alerts for <#{channel}> stopped: {reason}. Add me back to the channel and `/clue subscribe` "
        "there again."
    ),
    # watches (issue 22 item 3)
    "button.watch": "Watch",
    "notice.watching": (
        "Watching clue {id} here: when its stage, owner, tags or latest follow-up change, a reply says what "
        "changed (in the thread of its alert, or in a new message whose thread the next ones follow). "
        "`/clue unwatch {id}` stops it."
    ),
    "notice.watching_thread": "Watching clue {id} here: changes reply in this thread. `/clue unwatch {id}` stops it.",
    "notice.unwatched": "Stopped watching clue {id} in this channel.",
    "notice.unwatch_unknown": "This channel does not watch clue {id}. `/clue watches` lists what it watches.",
    "notice.watch_usage": (
        "Say which clue: `/clue watch 8` or `/clue unwatch 8` (`/clue watches` lists this channel's)."
    ),
    "notice.watches_none": (
        "This channel watches no clues. `/clue watch 8` (or *Watch* on an alert or a shared card) replies here "
        "when the clue's stage, owner, tags or latest follow-up change."
    ),
    "notice.watches": "*Clues watched in this channel*\n{lines}\n`/clue unwatch &lt;id&gt;` stops one.",
    "notice.watch_refused": "You can't watch clues in this channel: {rule}. Ask {contact}.",
    "notice.watch_not_in_channel": (
        "I'm not a member of this channel, so I can't post there. Add me (`/invite @clue bot`, or the channel's "
        "settings → Integrations → Add apps), then watch the clue again."
    ),
    "watch.changed": "{title} changed",
    "watch.follow_up": "New follow-up",
    "watch.none": "none",
    "watch.changed_unknown": "Its card changed: open it to see how.",
    # Show in chat (the Find a clue modal's picked card, #21 item 13)
    "button.show_in_chat": "Show in chat",
    "modal.shown_in_chat": "Posted in <#{channel}>: only you see it.",
    "modal.not_shown_hidden": (
        "I cannot post in that conversation: the app is not in it. Add the app there, or type `/clue {id}` in it."
    ),
    "modal.not_shown": "Slack did not take the card just now. Try again, or type `/clue {id}` in the conversation.",
    "modal.no_chat": (
        "Opened from the search bar, so there is no conversation to show it in: type `/clue {id}` in one, or "
        "open Find a clue from `/clue help` there."
    ),
    # people (issue 23): who you are in the CRM, /clue mine, App Home
    "notice.people_unavailable": (
        "Linking to the CRM is not available right now (the database does not answer). Lookups still work; try "
        "again in a minute."
    ),
    "notice.people_working": "Looking you up in the CRM: the answer comes as a message of its own.",
    "notice.me_match": "You are *{name}* in the CRM (matched by your Slack {by}). Is that you?",
    "notice.me_linked": (
        "You are *{name}* in the CRM (`{sales_id}`). `/clue mine` lists your clues; `/clue unlink` removes the link."
    ),
    "notice.me_stale": (
        "You are linked to *{name}* (`{sales_id}`), but the CRM no longer lists that user. Ask {contact} to link you "
        "again, or `/clue unlink`."
    ),
    "notice.me_ambiguous": (
        "More than one CRM user has your Slack {by}, so I won't guess. Ask {contact} to link you: "
        "`/clue link &lt;your member ID&gt; &lt;salesId&gt;`."
    ),
    "notice.me_unmatched": (
        "No CRM user has the e-mail or phone of your Slack profile. Ask {contact} to link you: "
        "`/clue link &lt;your member ID&gt; &lt;salesId&gt;`."
    ),
    "notice.me_no_contact": (
        "Your Slack profile shows no e-mail or phone, so I can't find you in the CRM. Add your phone to your Slack "
        "profile and `/clue me` again, or ask {contact} to link you."
    ),
    "notice.me_confirmed": (
        "Done: you are *{name}* in the CRM. `/clue mine` lists your clues; the app's Home tab shows what is due."
    ),
    "notice.me_not_me": (
        "Not linked. Ask {contact} to link you to the right CRM user: `/clue link &lt;your member ID&gt; "
        "&lt;salesId&gt;`."
    ),
    "notice.me_changed": "Your match in the CRM changed since I asked: `/clue me` again.",
    "notice.link_usage": (
        "Usage: `/clue link &lt;member ID&gt; &lt;salesId&gt;`, e.g. `/clue link U012AB3CD 1001`. Slack sends this "
        "command names, not ids: copy the member ID from the person's profile (⋯ → Copy member ID)."
    ),
    "notice.link_refused": "Only the app's admins can link someone else to a CRM user. Ask {contact}.",
    "notice.link_unknown_sales": "The CRM lists no user `{sales_id}`.",
    "notice.linked_by_admin": "Linked <@{user}> to *{name}* (`{sales_id}`) in the CRM.",
    "notice.unlinked": "Unlinked: you are no longer linked to a CRM user.",
    "notice.unlink_none": "You are not linked to a CRM user.",
    "notice.not_linked": (
        "You are not linked to a CRM user yet: `/clue me` finds you by your Slack e-mail or phone."
    ),
    "notice.mine_none": "The CRM lists no clues owned by you.",
    "people.by.email": "e-mail",
    "people.by.phone": "phone",
    "button.me_yes": "Yes, that's me",
    "button.me_not_me": "Not me",
    "mine.summary": "*Your clues* · {overdue} overdue · {today} due today · {total} in all",
    "mine.page": "Page {page} of {pages}",
    "mine.incomplete": "You own more than the {count} I read: the CRM's own list has them all.",
    "mine.overdue": "⚠️ *Overdue* {when}",
    "mine.due": "Due {when}",
    "home.you": "You are *{name}* in the CRM.",
    "home.unlinked": (
        "You are not linked to a CRM user yet. Type `/clue me` in any channel to find yourself (by your Slack "
        "e-mail or phone)."
    ),
    "home.stale_link": (
        "You are linked to *{name}* (`{sales_id}`), but the CRM no longer lists that user: ask {contact} to link "
        "you again."
    ),
    "home.crm_failed": "⚠️ The CRM is not answering and I have nothing recent to show: try again in a minute.",
    "home.see_all": "The first {count} are shown: `/clue mine` pages through all of them.",
    "home.subscriptions": "*Channel alerts you set up*",
    "home.subscriptions_none": "None: `/clue subscribe` in a channel posts its new clues there.",
    "home.recent": "*Your recent lookups*",
    "home.settings": "*Settings*",
    "home.language": "Language: {language}, from your Slack settings.",
    "home.nudge_on": "Morning nudge: on, at {time} ({tz}).",
    "home.nudge_off": "Morning nudge: off.",
    "button.nudge_off": "Turn the nudge off",
    "nudge.title": "Good morning: {overdue} overdue, {today} due today, {new} new to you",
    "nudge.new": "*New to you since the last nudge*",
    "assigned.new": "Assigned to you",
    # help and settings (issues 22, 23): /clue help names every command; Home's language and nudge time
    "help.lookup": (
        "*Look up*\n"
        "• `/clue &lt;id&gt;`: a clue card only you can see, e.g. `/clue 8`\n"
        "• `/clue &lt;id&gt; &lt;id&gt; …`: up to {max_ids} clues at once\n"
        "• `/clue &lt;clue link&gt;`: paste a clue link from the CRM\n"
        "• Digits alone are always an id: `/clue 13800138000` shows clue 13800138000"
    ),
    "help.search": (
        "*Search*\n"
        "• `/clue 张三` or `/clue find &lt;name or phone&gt;`: search by name or phone (at least one Chinese "
        "character, or two letters or digits: `/clue 张`, `/clue Li`)\n"
        "• `/clue find 13800138000`: a phone search needs 8 digits at least; written with spaces, dashes or +86 "
        "(`/clue +86 138-0013-8000`) it is searched without `find`"
    ),
    "help.alerts": (
        "*Alerts in a channel*\n"
        "• `/clue subscribe`: post every new clue in this channel; filters narrow it, "
        "e.g. `/clue subscribe stage:意向明确 tag:VIP` (`stage`, `source`, `tag`)\n"
        "• `/clue subscriptions`: this channel's alerts, numbered · `/clue unsubscribe &lt;n&gt;` stops one\n"
        "• `/clue watch &lt;id&gt;`: a reply here when the clue's stage, owner, tags or latest follow-up change · "
        "`/clue unwatch &lt;id&gt;` stops it · `/clue watches` lists this channel's"
    ),
    "help.you": (
        "*You*\n"
        "• `/clue me`: who you are in the CRM (found by your Slack e-mail or phone, confirmed once) · "
        "`/clue unlink` removes the link\n"
        "• `/clue mine`: the clues you own, overdue first\n"
        "• The app's *Home* tab: what is due today, your channel alerts, your language and morning nudge\n"
        "• Admins: `/clue link &lt;member ID&gt; &lt;salesId&gt;` links someone else\n"
        "• `/clue help`: this help"
    ),
    "notice.did_you_mean": (
        "`{word}` is not a `/clue` command: did you mean `/clue {command}`? `/clue help` lists them all; "
        "`/clue find {word}` searches for it."
    ),
    "home.language_chosen": "Language: {language}, chosen here.",
    "home.language_pick": "Language",
    "home.language_slack": "Slack's own",
    "home.nudge_pick": "Nudge me at…",
}

_ZH: dict[str, str] = {
    "field.stage": "阶段",
    "field.source": "来源",
    "field.company": "公司",
    "field.owner": "负责人",
    "field.purchase_intention": "购买意向",
    "field.phone": "电话",
    "field.converted": "已转客户",
    "field.gender": "性别",
    "field.tags": "标签",
    "field.description": "描述",
    "field.address": "地址",
    "field.birthday": "生日",
    "time.created": "创建",
    "time.updated": "更新",
    "time.converted": "转客户",
    "freshness": "{checked}从 CRM 读取",
    "freshness.updated": "{checked}从 CRM 读取 · 记录更新于 {updated}",
    "freshness.stale": "记录更新于 {updated}",
    "stale": "⚠️ *CRM 暂时无法访问，上次读取于 {when}*",
    "value.yes": "是",
    "value.no": "否",
    "value.lead": "线索",
    "value.awaiting_assignment": "待分配",
    "owner.unassigned": "未分配",
    "clue.converted": "✅ 已转为客户",
    "value.unknown_option": "未知选项",
    "value.unknown_option_id": "未知选项（{value}）",
    "list.separator": "，",
    "value.more": "另 {count} 项",
    "tags.unknown.one": "另 {count} 个未知标签",
    "tags.unknown.other": "另 {count} 个未知标签",
    "kind.1": "个人",
    "kind.2": "企业",
    "kind.other": "其他类型",
    "kind.other_code": "其他类型（{kind}）",
    "clue.title": "线索 {id}",
    "clue.id": "ID `{id}`",
    "shared_by": "由 {user} 分享",
    "list.summary": "线索（{count} 条）",
    "button.open": "在 CRM 中打开",
    "button.refresh": "刷新",
    "button.share": "分享到频道",
    "button.reveal": "显示完整电话",
    "entity.display_type": "线索",
    "field.next_follow_up": "下次跟进",
    "entity.overdue": "已逾期",
    "entity.follow_ups": "跟进记录",
    "entity.no_follow_ups": "暂无跟进记录",
    "entity.data_as_of": "CRM 暂时无法访问，上次读取于",
    "entity.rate_limited_title": "查询太频繁",
    "reason.not_found": "未找到",
    "reason.unknown": "出现意外问题，请稍后再试",
    "reason.crm_unavailable": "CRM 暂时无法访问，请一分钟后再试",
    "reason.crm_auth": "CRM 拒绝了请求签名",
    "reason.crm_clock": "CRM 拒绝了请求时间",
    "reason.crm_error": "CRM 返回了异常结果",
    "invalid_reason.not_a_number": "不是数字",
    "invalid_reason.too_long": "数字太长",
    "invalid_reason.zero": "线索 id 从 1 开始",
    "invalid_reason.text_too_long": "命令太长",
    "invalid_reason.not_a_clue_link": "该链接不是线索链接",
    "rule.workspace": "此工作区未获授权",
    "rule.user": "你不在允许名单中",
    "rule.channel": "此频道未启用",
    "rule.unfurl_channel": "此频道未开启链接预览",
    "rule.shared_channel": "此频道与其他组织共享",
    "rule.conversation_hidden": "应用未加入此对话",
    "rule.direct_message_hidden": "应用看不到此私信",
    "notice.conversation_hidden": (
        "无法向此对话展示卡片：应用未加入此对话，无法判断其他组织的人是否会看到卡片。"
        "请把应用添加到此对话（对话详情 › 集成 › 添加应用），或在应用所在的频道中分享。"
    ),
    "notice.direct_message_hidden": (
        "无法在此私信中展示卡片：应用看不到此私信，无法判断其中是否有其他组织的人。"
        "请在应用所在的频道中分享，或把应用添加到此对话。"
    ),
    "notice.invalid_id": "`{text}` 不是有效的线索 id：{reason}。输入 `/clue help` 查看用法。",
    "notice.too_many": "一次最多只能查询 {max_ids} 条线索。",
    "notice.not_found": "CRM 中找不到线索 {id}，请检查 id 后重试。",
    "notice.crm_unavailable": "CRM 暂时无法访问，请一分钟后再试。",
    "notice.crm_auth": "CRM 拒绝了请求签名。请联系管理员检查 `CRM_APP_ID` 和 `CRM_APP_KEY`。",
    "notice.crm_clock": "CRM 拒绝了请求时间。请联系管理员检查服务器时钟。",
    "notice.crm_error": "CRM 返回了异常结果。请稍后再试；如果一直出现，请告诉管理员。",
    "notice.rate_limited": "查询太频繁了，请 {seconds} 秒后再试。",
    "notice.answer_follows": "线索 {id}：CRM 响应较慢，卡片将以单独的消息发送。",
    "notice.not_allowed": "此处不允许查看线索卡片（{rule}）。如需权限，请联系 {contact}。",
    "notice.internal_error": "系统出错了，已记录日志，请稍后再试。",
    "notice.search_refused": "没有可搜索的内容：{why}。试试 `/clue find 张三` 或 `/clue find 138 0013 8000`。",
    "search_reason.empty": "请在 `find` 后输入姓名或电话",
    "search_reason.nothing_searchable": "输入的内容里没有汉字、字母或数字",
    "search_reason.too_short": "请至少输入 1 个汉字或 2 个字母",
    "search_reason.too_few_digits": "按电话搜索至少需要 8 位数字（完整号码或其大部分）",
    "search_reason.too_long": "文本太长（姓名和电话都很短）",
    "notice.search_none": (
        "没有匹配“{query}”的线索。请检查拼写，或只输入姓名或电话的一部分；也可以按 ID 查找（`/clue help`）。"
    ),
    "search.option_unavailable": "CRM 响应慢或无法连接，请稍后再试",
    "notice.search_page_gone": "“{query}”已没有第 {page} 页，请重新搜索。",
    "notice.searching": "CRM 响应较慢，搜索结果将以单独的消息发送。",
    "search.summary": "匹配“{query}”的线索：第 {page} / {pages} 页",
    "search.summary_one_page": "匹配“{query}”的线索",
    "search.too_many": "匹配的线索很多，只显示前几页。请输入更完整的姓名或电话以缩小范围。",
    "button.show": "查看",
    "button.next": "下一页",
    "button.previous": "上一页",
    "button.find": "查找线索",
    "modal.title": "查找线索",
    "modal.label": "姓名或电话",
    "modal.placeholder": "至少输入 2 个字",
    "modal.hint": "选择一条线索，在此查看卡片，仅你可见。",
    # 线索摘要、跟进记录与弹窗
    "overdue.by": "逾期 {duration}",
    "duration.days.one": "{count} 天",
    "duration.days.other": "{count} 天",
    "duration.hours.one": "{count} 小时",
    "duration.hours.other": "{count} 小时",
    "duration.minutes.one": "{count} 分钟",
    "duration.minutes.other": "{count} 分钟",
    "activity.latest": "最近跟进",
    "activity.none": "暂无跟进记录",
    "activity.unavailable": "_最近跟进未显示：CRM 未及时响应。_",
    "activity.stale": "_（CRM 暂时无法访问，可能不是最新）_",
    "follow_up.kind.1": "跟进",
    "follow_up.kind.2": "系统",
    "follow_up.kind.other": "其他",
    "follow_up.no_operator": "未知",
    "button.details": "更多详情",
    "button.follow_ups": "跟进记录",
    "button.load_more": "加载更多",
    "modal.details.title": "线索详情",
    "modal.follow_ups.title": "跟进记录",
    "modal.close": "关闭",
    "modal.loading": "加载中…",
    "modal.follow_ups.empty": "暂无跟进记录。",
    "modal.follow_ups.end": "已全部显示。",
    "modal.follow_ups.capped": "仅显示最近 {count} 条，更早的请在 CRM 中查看。",
    "modal.follow_ups.failed": "⚠️ CRM 未返回跟进记录，请稍后再试。",
    "row.latest_follow_up": "最近跟进 {when}",
    "row.updated": "更新于 {when}",
    "row.created": "创建于 {when}",
    # Alerts (issue 22)
    "rule.subscriber": "你不在可以订阅频道的名单中",
    "notice.subscribed": (
        "已订阅：{what}将发送到此频道。`/clue subscriptions` 查看此频道的提醒；"
        "`/clue unsubscribe {number}` 取消这一条。"
    ),
    "notice.subscriptions_none": (
        "此频道没有线索提醒。`/clue subscribe` 会把每条新线索发到这里；可加筛选，"
        "例如 `/clue subscribe stage:意向明确 tag:VIP`（可用：`stage`、`source`、`tag`）。"
    ),
    "notice.subscriptions": "*此频道的线索提醒*\n{lines}\n`/clue unsubscribe &lt;序号&gt;` 取消一条。",
    "notice.unsubscribed": "已取消此频道的第 {number} 条提醒（{what}）。",
    "notice.unsubscribe_unknown": "此频道没有第 {number} 条提醒。`/clue subscriptions` 查看列表。",
    "notice.unsubscribe_usage": "请指明要取消哪一条：`/clue unsubscribe 1`（序号见 `/clue subscriptions`）。",
    "notice.bad_filter": (
        "`{text}` 不是有效的筛选条件。请用 `stage:`、`source:` 或 `tag:` 加名称，"
        "例如 `/clue subscribe stage:意向明确 tag:VIP`。"
    ),
    "notice.subscribe_refused": "你不能为此频道订阅线索提醒：{rule}。请联系 {contact}。",
    "notice.not_in_channel": (
        "我还不是此频道的成员，无法在这里发送提醒。请先添加我（`/invite @clue bot`，或频道设置 → 集成 → 添加应用），"
        "然后再次 `/clue subscribe`。"
    ),
    "notice.alerts_unavailable": "线索提醒暂时不可用（提醒数据库无响应）。查询线索不受影响，请一分钟后再试。",
    "alerts.every_clue": "每条新线索",
    "alerts.matching": "符合 {filters} 的新线索",
    "alerts.disabled": "已停止：{reason}",
    "alerts.reason.not_in_channel": "我已被移出频道",
    "alerts.reason.channel_not_found": "频道不存在或我无法访问",
    "alerts.reason.is_archived": "频道已归档",
    "alert.new": "新线索",
    "alert.digest": "{count} 条新线索",
    "alert.digest_more": "还有 {count} 条：请在 CRM 中查看全部。",
    "alert.stopped": "<#{channel}> 的线索提醒已停止：{reason}。请把我加回频道，并在那里再次 `/clue subscribe`。",
    # watches (issue 22 item 3)
    "button.watch": "关注",
    "notice.watching": (
        "已在此频道关注线索 {id}：阶段、负责人、标签或最近跟进有变化时，会回复说明变化"
        "（回复在其提醒的消息串中；没有时发一条新消息，之后的回复跟在它的消息串中）。`/clue unwatch {id}` 取消关注。"
    ),
    "notice.watching_thread": "已在此频道关注线索 {id}：变化会回复在这个消息串中。`/clue unwatch {id}` 取消关注。",
    "notice.unwatched": "已在此频道取消关注线索 {id}。",
    "notice.unwatch_unknown": "此频道没有关注线索 {id}。`/clue watches` 查看此频道关注的线索。",
    "notice.watch_usage": "请指明线索：`/clue watch 8` 或 `/clue unwatch 8`（`/clue watches` 查看此频道关注的线索）。",
    "notice.watches_none": (
        "此频道没有关注的线索。`/clue watch 8`（或在提醒、分享的卡片上点 *关注*）会在线索的阶段、负责人、"
        "标签或最近跟进变化时回复到这里。"
    ),
    "notice.watches": "*此频道关注的线索*\n{lines}\n`/clue unwatch &lt;编号&gt;` 取消一条。",
    "notice.watch_refused": "你不能在此频道关注线索：{rule}。请联系 {contact}。",
    "notice.watch_not_in_channel": (
        "我不是此频道的成员，无法在这里发消息。请先添加我（`/invite @clue bot`，或频道设置 → 集成 → 添加应用），"
        "然后再次关注该线索。"
    ),
    "watch.changed": "{title} 有变化",
    "watch.follow_up": "新跟进",
    "watch.none": "无",
    "watch.changed_unknown": "卡片内容有变化：请打开查看。",
    # Show in chat（查找线索弹窗中选中的卡片，#21 第 13 项）
    "button.show_in_chat": "在聊天中显示",
    "modal.shown_in_chat": "已发到 <#{channel}>，仅你可见。",
    "modal.not_shown_hidden": "无法在该会话中发送：应用不在其中。请把应用加进去，或在那里输入 `/clue {id}`。",
    "modal.not_shown": "Slack 暂时没有接收这张卡片。请重试，或在会话中输入 `/clue {id}`。",
    "modal.no_chat": (
        "从搜索栏打开，没有可显示的会话：请在会话中输入 `/clue {id}`，或在那里通过 `/clue help` 打开查找线索。"
    ),
    # people (issue 23): who you are in the CRM, /clue mine, App Home
    "notice.people_unavailable": "暂时无法关联 CRM 账号（数据库无响应）。查询线索不受影响，请一分钟后再试。",
    "notice.people_working": "正在 CRM 中查找你，结果将单独发送一条消息。",
    "notice.me_match": "你在 CRM 中是 *{name}*（按你的 Slack {by}匹配）。是你吗？",
    "notice.me_linked": "你在 CRM 中是 *{name}*（`{sales_id}`）。`/clue mine` 列出你的线索；`/clue unlink` 解除关联。",
    "notice.me_stale": (
        "你关联的是 *{name}*（`{sales_id}`），但 CRM 已不再有这个用户。请联系 {contact} 重新关联，或 `/clue unlink`"
        "。"
    ),
    "notice.me_ambiguous": (
        "CRM 中有多个用户使用你的 Slack {by}，我不会猜测。请联系 {contact} 为你关联："
        "`/clue link &lt;你的成员 ID&gt; &lt;salesId&gt;`。"
    ),
    "notice.me_unmatched": (
        "CRM 中没有用户使用你 Slack 资料里的邮箱或电话。请联系 {contact} 为你关联："
        "`/clue link &lt;你的成员 ID&gt; &lt;salesId&gt;`。"
    ),
    "notice.me_no_contact": (
        "你的 Slack 资料里没有邮箱或电话，无法在 CRM 中找到你。请在 Slack 资料中添加电话后再 `/clue me`，或联系 {co"
        "ntact} 为你关联。"
    ),
    "notice.me_confirmed": "已关联：你在 CRM 中是 *{name}*。`/clue mine` 列出你的线索；应用的主页显示待跟进事项。",
    "notice.me_not_me": (
        "未关联。请联系 {contact} 为你关联正确的 CRM 用户：`/clue link &lt;你的成员 ID&gt; &lt;salesId&gt;`。"
    ),
    "notice.me_changed": "你在 CRM 中的匹配结果已变化，请重新 `/clue me`。",
    "notice.link_usage": (
        "用法：`/clue link &lt;成员 ID&gt; &lt;salesId&gt;`，例如 `/clue link U012AB3CD 1001`。Slack 发给此命令的是"
        "名字而不是 ID："
        "请在对方的个人资料中复制成员 ID（⋯ → 复制成员 ID）。"
    ),
    "notice.link_refused": "只有应用管理员可以为他人关联 CRM 用户。请联系 {contact}。",
    "notice.link_unknown_sales": "CRM 中没有用户 `{sales_id}`。",
    "notice.linked_by_admin": "已将 <@{user}> 关联到 CRM 中的 *{name}*（`{sales_id}`）。",
    "notice.unlinked": "已解除关联：你不再关联任何 CRM 用户。",
    "notice.unlink_none": "你尚未关联 CRM 用户。",
    "notice.not_linked": "你尚未关联 CRM 用户：`/clue me` 会按你的 Slack 邮箱或电话查找你。",
    "notice.mine_none": "CRM 中没有你负责的线索。",
    "people.by.email": "邮箱",
    "people.by.phone": "电话",
    "button.me_yes": "是我",
    "button.me_not_me": "不是我",
    "mine.summary": "*我的线索* · 逾期 {overdue} · 今天到期 {today} · 共 {total} 条",
    "mine.page": "第 {page} / {pages} 页",
    "mine.incomplete": "你负责的线索超过已读取的 {count} 条：完整列表请在 CRM 中查看。",
    "mine.overdue": "⚠️ *已逾期* {when}",
    "mine.due": "到期 {when}",
    "home.you": "你在 CRM 中是 *{name}*。",
    "home.unlinked": "你尚未关联 CRM 用户。在任意频道输入 `/clue me`，按你的 Slack 邮箱或电话查找你。",
    "home.stale_link": "你关联的是 *{name}*（`{sales_id}`），但 CRM 已不再有这个用户：请联系 {contact} 重新关联。",
    "home.crm_failed": "⚠️ CRM 无响应，且没有近期数据可显示：请一分钟后再试。",
    "home.see_all": "仅显示前 {count} 条：`/clue mine` 可翻页查看全部。",
    "home.subscriptions": "*你设置的频道提醒*",
    "home.subscriptions_none": "无：在频道中 `/clue subscribe` 即可在那里推送新线索。",
    "home.recent": "*你最近查看的线索*",
    "home.settings": "*设置*",
    "home.language": "语言：{language}，取自你的 Slack 设置。",
    "home.nudge_on": "早间提醒：已开启，{time}（{tz}）。",
    "home.nudge_off": "早间提醒：已关闭。",
    "button.nudge_off": "关闭提醒",
    "nudge.title": "早上好：逾期 {overdue}，今天到期 {today}，新分配给你 {new}",
    "nudge.new": "*上次提醒后新分配给你的线索*",
    "assigned.new": "分配给你的新线索",
    # help and settings (issues 22, 23): /clue help names every command; Home's language and nudge time
    "help.lookup": (
        "*查询*\n"
        "• `/clue &lt;id&gt;`：显示仅你可见的线索卡片，例如 `/clue 8`\n"
        "• `/clue &lt;id&gt; &lt;id&gt; …`：一次最多查询 {max_ids} 条线索\n"
        "• `/clue &lt;线索链接&gt;`：粘贴 CRM 中的线索链接\n"
        "• 纯数字一律视为线索 id：`/clue 13800138000` 显示线索 13800138000"
    ),
    "help.search": (
        "*搜索*\n"
        "• `/clue 张三` 或 `/clue find &lt;姓名或电话&gt;`：按姓名或电话搜索，至少一个汉字或两个字母或数字"
        "（`/clue 张`、`/clue Li`）\n"
        "• `/clue find 13800138000`：搜索电话，至少 8 位数字；带空格、横线或 +86 的电话"
        "（`/clue +86 138-0013-8000`）无需 `find` 也会被搜索"
    ),
    "help.alerts": (
        "*频道提醒*\n"
        "• `/clue subscribe`（订阅）：在此频道推送每条新线索；可加筛选，例如 "
        "`/clue subscribe stage:意向明确 tag:VIP`（`stage`、`source`、`tag`）\n"
        "• `/clue subscriptions`：此频道的提醒（带序号）· `/clue unsubscribe &lt;序号&gt;`（取消订阅）停止其中一条\n"
        "• `/clue watch &lt;id&gt;`（关注）：线索的阶段、负责人、标签或最新跟进变化时在此回复 · "
        "`/clue unwatch &lt;id&gt;`（取消关注）停止 · `/clue watches`（关注列表）查看此频道关注的线索"
    ),
    "help.you": (
        "*你自己*\n"
        "• `/clue me`（我）：你在 CRM 中是谁（按你的 Slack 邮箱或电话查找，确认一次）· `/clue unlink` 取消关联\n"
        "• `/clue mine`（我的）：你负责的线索，逾期的在前\n"
        "• 应用的 *主页* 标签：今天到期的线索、你设置的频道提醒、你的语言和早间提醒\n"
        "• 管理员：`/clue link &lt;成员 ID&gt; &lt;salesId&gt;` 为他人关联\n"
        "• `/clue help`（帮助）：显示本帮助"
    ),
    "notice.did_you_mean": (
        "`{word}` 不是 `/clue` 的命令：你是想输入 `/clue {command}` 吗？`/clue help` 列出全部命令；"
        "`/clue find {word}` 可搜索它。"
    ),
    "home.language_chosen": "语言：{language}，在此选择。",
    "home.language_pick": "语言",
    "home.language_slack": "跟随 Slack",
    "home.nudge_pick": "提醒时间…",
}

# Traditional Chinese for Slack's zh-TW and zh-HK, in Taiwan's usage (資料, 連結, 訊息, 伺服器).
_ZH_TW: dict[str, str] = {
    "field.stage": "階段",
    "field.source": "來源",
    "field.company": "公司",
    "field.owner": "負責人",
    "field.purchase_intention": "購買意向",
    "field.phone": "電話",
    "field.converted": "已轉客戶",
    "field.gender": "性別",
    "field.tags": "標籤",
    "field.description": "描述",
    "field.address": "地址",
    "field.birthday": "生日",
    "time.created": "建立",
    "time.updated": "更新",
    "time.converted": "轉客戶",
    "freshness": "{checked}從 CRM 讀取",
    "freshness.updated": "{checked}從 CRM 讀取 · 紀錄更新於 {updated}",
    "freshness.stale": "紀錄更新於 {updated}",
    "stale": "⚠️ *CRM 暫時無法存取，上次讀取於 {when}*",
    "value.yes": "是",
    "value.no": "否",
    "value.lead": "線索",
    "value.awaiting_assignment": "待分配",
    "owner.unassigned": "未分配",
    "clue.converted": "✅ 已轉為客戶",
    "value.unknown_option": "未知選項",
    "value.unknown_option_id": "未知選項（{value}）",
    "list.separator": "，",
    "value.more": "另 {count} 項",
    "tags.unknown.one": "另 {count} 個未知標籤",
    "tags.unknown.other": "另 {count} 個未知標籤",
    "kind.1": "個人",
    "kind.2": "企業",
    "kind.other": "其他類型",
    "kind.other_code": "其他類型（{kind}）",
    "clue.title": "線索 {id}",
    "clue.id": "ID `{id}`",
    "shared_by": "由 {user} 分享",
    "list.summary": "線索（{count} 條）",
    "button.open": "在 CRM 中開啟",
    "button.refresh": "重新整理",
    "button.share": "分享到頻道",
    "button.reveal": "顯示完整電話",
    "reason.not_found": "未找到",
    "reason.unknown": "發生意外問題，請稍後再試",
    "reason.crm_unavailable": "CRM 暫時無法存取，請一分鐘後再試",
    "reason.crm_auth": "CRM 拒絕了請求簽名",
    "reason.crm_clock": "CRM 拒絕了請求時間",
    "reason.crm_error": "CRM 返回了異常結果",
    "invalid_reason.not_a_number": "不是數字",
    "invalid_reason.too_long": "數字太長",
    "invalid_reason.zero": "線索 id 從 1 開始",
    "invalid_reason.text_too_long": "命令太長",
    "invalid_reason.not_a_clue_link": "該連結不是線索連結",
    "rule.workspace": "此工作區未獲授權",
    "rule.user": "你不在允許名單中",
    "rule.channel": "此頻道未啟用",
    "rule.unfurl_channel": "此頻道未開啟連結預覽",
    "rule.shared_channel": "此頻道與其他組織共享",
    "rule.conversation_hidden": "應用程式未加入此對話",
    "rule.direct_message_hidden": "應用程式看不到此私訊",
    "notice.conversation_hidden": (
        "無法向此對話顯示卡片：應用程式未加入此對話，無法判斷其他組織的人是否會看到卡片。"
        "請將應用程式新增至此對話（對話詳細資訊 › 整合 › 新增應用程式），或在應用程式所在的頻道中分享。"
    ),
    "notice.direct_message_hidden": (
        "無法在此私訊中顯示卡片：應用程式看不到此私訊，無法判斷其中是否有其他組織的人。"
        "請在應用程式所在的頻道中分享，或將應用程式新增至此對話。"
    ),
    "notice.invalid_id": "`{text}` 不是有效的線索 id：{reason}。輸入 `/clue help` 查看用法。",
    "notice.too_many": "一次最多只能查詢 {max_ids} 條線索。",
    "notice.not_found": "CRM 中找不到線索 {id}，請檢查 id 後重試。",
    "notice.crm_unavailable": "CRM 暫時無法存取，請一分鐘後再試。",
    "notice.crm_auth": "CRM 拒絕了請求簽名。請聯絡管理員檢查 `CRM_APP_ID` 和 `CRM_APP_KEY`。",
    "notice.crm_clock": "CRM 拒絕了請求時間。請聯絡管理員檢查伺服器時鐘。",
    "notice.crm_error": "CRM 返回了異常結果。請稍後再試；如果一直出現，請告訴管理員。",
    "notice.rate_limited": "查詢太頻繁了，請 {seconds} 秒後再試。",
    "notice.answer_follows": "線索 {id}：CRM 回應較慢，卡片將以單獨的訊息傳送。",
    "notice.not_allowed": "此處不允許查看線索卡片（{rule}）。如需權限，請聯絡 {contact}。",
    "notice.internal_error": "系統出錯了，已記錄日誌，請稍後再試。",
    # Lead summary, modals and Work Objects
    "entity.display_type": "線索",
    "field.next_follow_up": "下次跟進",
    "entity.overdue": "已逾期",
    "entity.follow_ups": "跟進紀錄",
    "entity.no_follow_ups": "尚無跟進紀錄",
    "entity.data_as_of": "CRM 暫時無法存取，上次讀取於",
    "entity.rate_limited_title": "查詢太頻繁",
    "overdue.by": "逾期 {duration}",
    "duration.days.one": "{count} 天",
    "duration.days.other": "{count} 天",
    "duration.hours.one": "{count} 小時",
    "duration.hours.other": "{count} 小時",
    "duration.minutes.one": "{count} 分鐘",
    "duration.minutes.other": "{count} 分鐘",
    "activity.latest": "最近跟進",
    "activity.none": "尚無跟進紀錄",
    "activity.unavailable": "_最近跟進未顯示：CRM 未及時回應。_",
    "activity.stale": "_（CRM 暫時無法連線，可能不是最新）_",
    "follow_up.kind.1": "跟進",
    "follow_up.kind.2": "系統",
    "follow_up.kind.other": "其他",
    "follow_up.no_operator": "未知",
    "button.details": "更多詳情",
    "button.follow_ups": "跟進紀錄",
    "button.load_more": "載入更多",
    "modal.details.title": "線索詳情",
    "modal.follow_ups.title": "跟進紀錄",
    "modal.close": "關閉",
    "modal.loading": "載入中…",
    "modal.follow_ups.empty": "尚無跟進紀錄。",
    "modal.follow_ups.end": "已全部顯示。",
    "modal.follow_ups.capped": "僅顯示最近 {count} 筆，更早的請在 CRM 中查看。",
    "modal.follow_ups.failed": "⚠️ CRM 未傳回跟進紀錄，請稍後再試。",
    "row.latest_follow_up": "最近跟進 {when}",
    "row.updated": "更新於 {when}",
    "row.created": "建立於 {when}",
    # Search
    "notice.search_refused": "沒有可搜尋的內容：{why}。試試 `/clue find 張三` 或 `/clue find 138 0013 8000`。",
    "search_reason.empty": "請在 `find` 後輸入姓名或電話",
    "search_reason.nothing_searchable": "輸入的內容裡沒有漢字、字母或數字",
    "search_reason.too_short": "請至少輸入 1 個漢字或 2 個字母",
    "search_reason.too_few_digits": "按電話搜尋至少需要 8 位數字（完整號碼或其大部分）",
    "search_reason.too_long": "文字太長（姓名和電話都很短）",
    "notice.search_none": (
        "沒有符合「{query}」的線索。請檢查拼寫，或只輸入姓名或電話的一部分；也可以依 ID 查詢（`/clue help`）。"
    ),
    "search.option_unavailable": "CRM 回應慢或無法連線，請稍後再試",
    "notice.search_page_gone": "「{query}」已沒有第 {page} 頁，請重新搜尋。",
    "notice.searching": "CRM 回應較慢，搜尋結果將以單獨的訊息傳送。",
    "search.summary": "符合「{query}」的線索：第 {page} / {pages} 頁",
    "search.summary_one_page": "符合「{query}」的線索",
    "search.too_many": "符合的線索很多，只顯示前幾頁。請輸入更完整的姓名或電話以縮小範圍。",
    "button.show": "查看",
    "button.next": "下一頁",
    "button.previous": "上一頁",
    "button.find": "尋找線索",
    "modal.title": "尋找線索",
    "modal.label": "姓名或電話",
    "modal.placeholder": "至少輸入 2 個字",
    "modal.hint": "選擇一條線索，在此查看卡片，僅你可見。",
    # Alerts (issue 22)
    "rule.subscriber": "你不在可以訂閱頻道的名單中",
    "notice.subscribed": (
        "已訂閱：{what}將傳送到此頻道。`/clue subscriptions` 查看此頻道的提醒；"
        "`/clue unsubscribe {number}` 取消這一則。"
    ),
    "notice.subscriptions_none": (
        "此頻道沒有線索提醒。`/clue subscribe` 會把每條新線索發到這裡；可加篩選，"
        "例如 `/clue subscribe stage:意向明确 tag:VIP`（可用：`stage`、`source`、`tag`）。"
    ),
    "notice.subscriptions": "*此頻道的線索提醒*\n{lines}\n`/clue unsubscribe &lt;序號&gt;` 取消一則。",
    "notice.unsubscribed": "已取消此頻道的第 {number} 則提醒（{what}）。",
    "notice.unsubscribe_unknown": "此頻道沒有第 {number} 則提醒。`/clue subscriptions` 查看列表。",
    "notice.unsubscribe_usage": "請指明要取消哪一則：`/clue unsubscribe 1`（序號見 `/clue subscriptions`）。",
    "notice.bad_filter": (
        "`{text}` 不是有效的篩選條件。請用 `stage:`、`source:` 或 `tag:` 加名稱，"
        "例如 `/clue subscribe stage:意向明确 tag:VIP`。"
    ),
    "notice.subscribe_refused": "你不能為此頻道訂閱線索提醒：{rule}。請聯絡 {contact}。",
    "notice.not_in_channel": (
        "我還不是此頻道的成員，無法在這裡傳送提醒。"
        "請先加入我（`/invite @clue bot`，或頻道設定 → 整合 → 新增應用程式），然後再次 `/clue subscribe`。"
    ),
    "notice.alerts_unavailable": "線索提醒暫時無法使用（提醒資料庫沒有回應）。查詢線索不受影響，請一分鐘後再試。",
    "alerts.every_clue": "每條新線索",
    "alerts.matching": "符合 {filters} 的新線索",
    "alerts.disabled": "已停止：{reason}",
    "alerts.reason.not_in_channel": "我已被移出頻道",
    "alerts.reason.channel_not_found": "頻道不存在或我無法存取",
    "alerts.reason.is_archived": "頻道已封存",
    "alert.new": "新線索",
    "alert.digest": "{count} 條新線索",
    "alert.digest_more": "還有 {count} 條：請在 CRM 中查看全部。",
    "alert.stopped": "<#{channel}> 的線索提醒已停止：{reason}。請把我加回頻道，並在那裡再次 `/clue subscribe`。",
    # watches (issue 22 item 3)
    "button.watch": "關注",
    "notice.watching": (
        "已在此頻道關注線索 {id}：階段、負責人、標籤或最近跟進有變化時，會回覆說明變化"
        "（回覆在其提醒的討論串中；沒有時發一則新訊息，之後的回覆跟在它的討論串中）。`/clue unwatch {id}` 取消關注。"
    ),
    "notice.watching_thread": "已在此頻道關注線索 {id}：變化會回覆在這個討論串中。`/clue unwatch {id}` 取消關注。",
    "notice.unwatched": "已在此頻道取消關注線索 {id}。",
    "notice.unwatch_unknown": "此頻道沒有關注線索 {id}。`/clue watches` 查看此頻道關注的線索。",
    "notice.watch_usage": "請指明線索：`/clue watch 8` 或 `/clue unwatch 8`（`/clue watches` 查看此頻道關注的線索）。",
    "notice.watches_none": (
        "此頻道沒有關注的線索。`/clue watch 8`（或在提醒、分享的卡片上點 *關注*）會在線索的階段、負責人、"
        "標籤或最近跟進變化時回覆到這裡。"
    ),
    "notice.watches": "*此頻道關注的線索*\n{lines}\n`/clue unwatch &lt;編號&gt;` 取消一則。",
    "notice.watch_refused": "你不能在此頻道關注線索：{rule}。請聯絡 {contact}。",
    "notice.watch_not_in_channel": (
        "我不是此頻道的成員，無法在這裡發訊息。請先新增我（`/invite @clue bot`，或頻道設定 → 整合 → 新增應用程式），"
        "然後再次關注該線索。"
    ),
    "watch.changed": "{title} 有變化",
    "watch.follow_up": "新跟進",
    "watch.none": "無",
    "watch.changed_unknown": "卡片內容有變化：請開啟查看。",
    # Show in chat（查找線索視窗中選取的卡片，#21 第 13 項）
    "button.show_in_chat": "在聊天中顯示",
    "modal.shown_in_chat": "已發到 <#{channel}>，僅你可見。",
    "modal.not_shown_hidden": "無法在該對話中傳送：應用程式不在其中。請把應用程式加進去，或在那裡輸入 `/clue {id}`。",
    "modal.not_shown": "Slack 暫時沒有接收這張卡片。請重試，或在對話中輸入 `/clue {id}`。",
    "modal.no_chat": (
        "從搜尋列開啟，沒有可顯示的對話：請在對話中輸入 `/clue {id}`，或在那裡透過 `/clue help` 開啟查找線索。"
    ),
    # people (issue 23): who you are in the CRM, /clue mine, App Home
    "notice.people_unavailable": "暫時無法連結 CRM 帳號（資料庫沒有回應）。查詢線索不受影響，請一分鐘後再試。",
    "notice.people_working": "正在 CRM 中尋找你，結果將以另一則訊息送出。",
    "notice.me_match": "你在 CRM 中是 *{name}*（依你的 Slack {by}比對）。是你嗎？",
    "notice.me_linked": "你在 CRM 中是 *{name}*（`{sales_id}`）。`/clue mine` 列出你的線索；`/clue unlink` 解除連結。",
    "notice.me_stale": (
        "你連結的是 *{name}*（`{sales_id}`），但 CRM 已不再有這個使用者。請聯絡 {contact} 重新連結，或 `/clue unlin"
        "k`。"
    ),
    "notice.me_ambiguous": (
        "CRM 中有多位使用者使用你的 Slack {by}，我不會猜測。請聯絡 {contact} 為你連結："
        "`/clue link &lt;你的成員 ID&gt; &lt;salesId&gt;`。"
    ),
    "notice.me_unmatched": (
        "CRM 中沒有使用者使用你 Slack 個人檔案裡的電子郵件或電話。請聯絡 {contact} 為你連結："
        "`/clue link &lt;你的成員 ID&gt; &lt;salesId&gt;`。"
    ),
    "notice.me_no_contact": (
        "你的 Slack 個人檔案裡沒有電子郵件或電話，無法在 CRM 中找到你。請在 Slack 個人檔案加上電話後再 `/clue me`，"
        "或聯絡 {contact} 為你連結。"
    ),
    "notice.me_confirmed": "已連結：你在 CRM 中是 *{name}*。`/clue mine` 列出你的線索；應用程式的首頁顯示待跟進事項。",
    "notice.me_not_me": (
        "未連結。請聯絡 {contact} 為你連結正確的 CRM 使用者：`/clue link &lt;你的成員 ID&gt; &lt;salesId&gt;`。"
    ),
    "notice.me_changed": "你在 CRM 中的比對結果已改變，請重新 `/clue me`。",
    "notice.link_usage": (
        "用法：`/clue link &lt;成員 ID&gt; &lt;salesId&gt;`，例如 `/clue link U012AB3CD 1001`。Slack 傳給此指令的是"
        "名稱而不是 ID："
        "請從對方的個人檔案複製成員 ID（⋯ → 複製成員 ID）。"
    ),
    "notice.link_refused": "只有應用程式管理員可以為他人連結 CRM 使用者。請聯絡 {contact}。",
    "notice.link_unknown_sales": "CRM 中沒有使用者 `{sales_id}`。",
    "notice.linked_by_admin": "已將 <@{user}> 連結到 CRM 中的 *{name}*（`{sales_id}`）。",
    "notice.unlinked": "已解除連結：你不再連結任何 CRM 使用者。",
    "notice.unlink_none": "你尚未連結 CRM 使用者。",
    "notice.not_linked": "你尚未連結 CRM 使用者：`/clue me` 會依你的 Slack 電子郵件或電話尋找你。",
    "notice.mine_none": "CRM 中沒有你負責的線索。",
    "people.by.email": "電子郵件",
    "people.by.phone": "電話",
    "button.me_yes": "是我",
    "button.me_not_me": "不是我",
    "mine.summary": "*我的線索* · 逾期 {overdue} · 今天到期 {today} · 共 {total} 條",
    "mine.page": "第 {page} / {pages} 頁",
    "mine.incomplete": "你負責的線索超過已讀取的 {count} 條：完整清單請在 CRM 中查看。",
    "mine.overdue": "⚠️ *已逾期* {when}",
    "mine.due": "到期 {when}",
    "home.you": "你在 CRM 中是 *{name}*。",
    "home.unlinked": "你尚未連結 CRM 使用者。在任一頻道輸入 `/clue me`，依你的 Slack 電子郵件或電話尋找你。",
    "home.stale_link": "你連結的是 *{name}*（`{sales_id}`），但 CRM 已不再有這個使用者：請聯絡 {contact} 重新連結。",
    "home.crm_failed": "⚠️ CRM 沒有回應，且沒有近期資料可顯示：請一分鐘後再試。",
    "home.see_all": "僅顯示前 {count} 條：`/clue mine` 可翻頁查看全部。",
    "home.subscriptions": "*你設定的頻道提醒*",
    "home.subscriptions_none": "無：在頻道中 `/clue subscribe` 即可在那裡推送新線索。",
    "home.recent": "*你最近查看的線索*",
    "home.settings": "*設定*",
    "home.language": "語言：{language}，取自你的 Slack 設定。",
    "home.nudge_on": "早晨提醒：已開啟，{time}（{tz}）。",
    "home.nudge_off": "早晨提醒：已關閉。",
    "button.nudge_off": "關閉提醒",
    "nudge.title": "早安：逾期 {overdue}，今天到期 {today}，新指派給你 {new}",
    "nudge.new": "*上次提醒後新指派給你的線索*",
    "assigned.new": "指派給你的新線索",
    # help and settings (issues 22, 23): /clue help names every command; Home's language and nudge time
    "help.lookup": (
        "*查詢*\n"
        "• `/clue &lt;id&gt;`：顯示僅你可見的線索卡片，例如 `/clue 8`\n"
        "• `/clue &lt;id&gt; &lt;id&gt; …`：一次最多查詢 {max_ids} 條線索\n"
        "• `/clue &lt;線索連結&gt;`：貼上 CRM 中的線索連結\n"
        "• 純數字一律視為線索 id：`/clue 13800138000` 顯示線索 13800138000"
    ),
    "help.search": (
        "*搜尋*\n"
        "• `/clue 张三` 或 `/clue find &lt;姓名或電話&gt;`：依姓名或電話搜尋，至少一個漢字或兩個字母或數字"
        "（`/clue 張`、`/clue Li`）\n"
        "• `/clue find 13800138000`：搜尋電話，至少 8 位數字；含空格、連字號或 +86 的電話"
        "（`/clue +86 138-0013-8000`）不需 `find` 也會被搜尋"
    ),
    "help.alerts": (
        "*頻道提醒*\n"
        "• `/clue subscribe`（訂閱）：在此頻道推送每條新線索；可加篩選，例如 "
        "`/clue subscribe stage:意向明确 tag:VIP`（`stage`、`source`、`tag`）\n"
        "• `/clue subscriptions`：此頻道的提醒（附序號）· `/clue unsubscribe &lt;序號&gt;`（取消訂閱）停止其中一則\n"
        "• `/clue watch &lt;id&gt;`（關注）：線索的階段、負責人、標籤或最新跟進變更時在此回覆 · "
        "`/clue unwatch &lt;id&gt;`（取消關注）停止 · `/clue watches`（關注列表）查看此頻道關注的線索"
    ),
    "help.you": (
        "*你自己*\n"
        "• `/clue me`（我）：你在 CRM 中是誰（依你的 Slack 電子郵件或電話尋找，確認一次）· `/clue unlink` 取消連結\n"
        "• `/clue mine`（我的）：你負責的線索，逾期的在前\n"
        "• 應用程式的 *首頁* 分頁：今天到期的線索、你設定的頻道提醒、你的語言和早晨提醒\n"
        "• 管理員：`/clue link &lt;成員 ID&gt; &lt;salesId&gt;` 為他人連結\n"
        "• `/clue help`（幫助）：顯示本說明"
    ),
    "notice.did_you_mean": (
        "`{word}` 不是 `/clue` 的指令：你是想輸入 `/clue {command}` 嗎？`/clue help` 列出全部指令；"
        "`/clue find {word}` 可搜尋它。"
    ),
    "home.language_chosen": "語言：{language}，在此選擇。",
    "home.language_pick": "語言",
    "home.language_slack": "跟隨 Slack",
    "home.nudge_pick": "提醒時間…",
}


# zip(strict=True): a locale without a string table (or a table without a locale) fails at import.
_TABLES: dict[str, dict[str, str]] = dict(zip(LOCALES, (_EN, _ZH, _ZH_TW), strict=True))
# Where a table lacks a key, the closest language before English.
_FALLBACK: dict[str, dict[str, str]] = {"zh-TW": _ZH}


def t(locale: str, key: str, **kwargs: object) -> str:
    """The string ``key`` in ``locale`` (English when either is unknown there), formatted with ``kwargs``.

    An unknown key raises ``KeyError``: it is a bug, and tests render every key.
    """
    template = _TABLES.get(locale, _EN).get(key) or _FALLBACK.get(locale, _EN).get(key) or _EN[key]
    return template.format(**kwargs)


def known(key: str) -> bool:
    """Whether ``key`` has a string, e.g. to translate a rule or reason code when one exists."""
    return key in _EN
