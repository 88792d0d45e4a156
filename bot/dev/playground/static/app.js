// The playground page: plays Slack's client for clue bot.
//
// What the person does goes to /playground/* (which signs it and sends it through /slack/events);
// what the app sends Slack afterwards is polled from /playground/messages and applied to the view:
// response_url posts replace, delete or add messages; chat.unfurl attaches previews to a message (as
// Work Object cards when it carries metadata); entity.presentDetails fills the flexpane. The same poll
// brings the app's notes on pasted links it did not unfurl, shown under the message with the reason.
//
// "You, in Slack" picks who the page plays: one Slack user per language (the app learns each person's
// language from users.info), and the time zone <!date> tokens render in, as Slack renders them per viewer.
//
// Everything from the app or the CRM is data: the DOM is built with createElement and text nodes,
// never from HTML strings, and links are only made for http(s) and mailto URLs.
"use strict";

(() => {
  const BUILDER = "https://app.slack.com/block-kit-builder/#";
  const POLL_MS = 400;
  const HIDDEN_POLL_MS = 2000;
  const LOG_LIMIT = 100;

  const STORED_VIEWER = "cluebot.playground.viewer";
  const STORED_ZONE = "cluebot.playground.zone";

  const state = {
    config: null,
    viewer: "en", // which of config.viewers the page plays
    timeZone: "", // IANA zone dates render in; "" is this browser's own
    since: 0, // last fake-Slack call applied
    notesSince: 0, // last note on a skipped unfurl applied
    counter: 0,
    messages: new Map(), // message id -> message
    keys: new Map(), // response_url key -> message id it was issued for
    posts: new Map(), // "channel/ts" -> message (targets of chat.unfurl)
    history: [],
    wake: null,
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------------------------ DOM helpers

  /** An element with attributes ("class", "text", "on<event>" handlers) and children (strings become text). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== undefined && child !== null) node.append(child);
    }
    return node;
  }

  function safeHref(url) {
    return typeof url === "string" && /^(https?:\/\/|mailto:)/i.test(url) ? url : null;
  }

  function externalLink(href, ...children) {
    return el("a", { href, target: "_blank", rel: "noopener noreferrer" }, ...children);
  }

  // ------------------------------------------------------------------------------------ mrkdwn

  // Slack escapes exactly these three in mrkdwn; decoded only when text becomes a text node.
  const ENTITIES = { amp: "&", lt: "<", gt: ">" };
  const decode = (s) => s.replace(/&(amp|lt|gt);/g, (_, name) => ENTITIES[name]);

  // <special> tokens, `code`, and *bold* _italic_ ~strike~ (markers not inside a word).
  const INLINE = /<([^<>\n]+)>|`([^`\n]+)`|(?<![\p{L}\p{N}])([*_~])(?=\S)([^\n]*?\S)\3(?![\p{L}\p{N}])/gu;
  const STYLE_TAGS = { "*": "strong", _: "em", "~": "s" };

  /** A mrkdwn string as a DocumentFragment. */
  function mrkdwn(text) {
    const fragment = document.createDocumentFragment();
    const parts = text.split("```");
    if (parts.length % 2 === 0) parts.push(parts.pop() + "```" + parts.pop()); // an unclosed ``` is text
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        fragment.append(el("pre", { class: "m-pre" }, decode(part.replace(/^\n|\n$/g, ""))));
        return;
      }
      const lines = part.split("\n");
      lines.forEach((line, n) => {
        if (/^(&gt;|>)/.test(line)) {
          const quote = el("span", { class: "m-quote" });
          inline(line.replace(/^(&gt;|>) ?/, ""), quote);
          fragment.append(quote);
          return;
        }
        inline(line, fragment);
        if (n < lines.length - 1) fragment.append(el("br"));
      });
    });
    return fragment;
  }

  function inline(text, parent) {
    let done = 0;
    for (const match of text.matchAll(INLINE)) {
      if (match.index > done) parent.append(decode(text.slice(done, match.index)));
      if (match[1] !== undefined) {
        parent.append(special(match[1]));
      } else if (match[2] !== undefined) {
        parent.append(el("code", { class: "m-code" }, decode(match[2])));
      } else {
        const styled = el(STYLE_TAGS[match[3]]);
        inline(match[4], styled);
        parent.append(styled);
      }
      done = match.index + match[0].length;
    }
    if (done < text.length) parent.append(decode(text.slice(done)));
  }

  /** <@U123>, <#C123|name>, <!here>, <!date^…|fallback>, <url|text>, <url>. */
  function special(inner) {
    const bar = inner.indexOf("|");
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? null : decode(inner.slice(bar + 1));
    if (target.startsWith("@")) return mention("@" + (label || userName(target.slice(1))));
    if (target.startsWith("#")) return mention("#" + (label || target.slice(1)));
    if (target.startsWith("!date^")) return dateToken(target, label);
    if (target.startsWith("!subteam^")) return mention(label || "@group");
    if (target.startsWith("!")) return mention("@" + target.slice(1)); // here, channel, everyone
    const href = safeHref(decode(target));
    const text = label || decode(target);
    return href ? externalLink(href, text) : document.createTextNode(text);
  }

  function mention(text) {
    return el("span", { class: "m-mention" }, text);
  }

  function userName(id) {
    const config = state.config;
    const viewer = config && Object.values(config.viewers).find((v) => v.id === id);
    if (viewer) return viewer.name;
    if (config && id === config.bot_user_id) return "clue";
    return id;
  }

  // ------------------------------------------------------------------------------------ dates

  // Every time on the page is a <time data-epoch>, rendered in the chosen zone and the viewer's Slack
  // locale, so switching either re-renders them all: data-kind "slack" is a <!date> token (data-format,
  // data-fallback), "wo" a Work Object timestamp, "clock" a message's own time.

  const zone = () => state.timeZone || undefined;
  const viewerLocale = () => state.config?.viewers?.[state.viewer]?.slack_locale || undefined;
  const dateFormat = (options) => new Intl.DateTimeFormat(viewerLocale(), { ...options, timeZone: zone() });
  const pad = (n) => String(n).padStart(2, "0");
  const DATE = { year: "numeric", month: "long", day: "numeric" };
  const DATE_SHORT = { year: "numeric", month: "short", day: "numeric" };
  const DATE_LONG = { weekday: "long", year: "numeric", month: "long", day: "numeric" };
  const FULL = { dateStyle: "full", timeStyle: "long" };

  function dateToken(target, fallback) {
    const [, epoch, format = "", link] = target.split("^");
    const node = el("time", { class: "m-date", "data-kind": "slack", "data-epoch": epoch, "data-format": format,
                              "data-fallback": fallback || "" });
    const seconds = Number(epoch);
    if (epoch && Number.isFinite(seconds)) node.setAttribute("datetime", new Date(seconds * 1000).toISOString());
    renderTime(node);
    const href = link && safeHref(decode(link));
    return href ? externalLink(href, node) : node;
  }

  function timeNode(seconds, kind, className) {
    const node = el("time", { class: className, "data-kind": kind, "data-epoch": String(seconds),
                              datetime: new Date(seconds * 1000).toISOString() });
    renderTime(node);
    return node;
  }

  /** Fill a <time> from its epoch (and Slack format), in the chosen zone; a token's fallback if unreadable. */
  function renderTime(node) {
    const seconds = Number(node.dataset.epoch);
    const date = new Date(seconds * 1000);
    if (node.dataset.kind === "wo" || node.dataset.kind === "clock") {
      const options = node.dataset.kind === "wo" ? { dateStyle: "medium", timeStyle: "short" }
        : { hour: "numeric", minute: "2-digit" };
      node.textContent = dateFormat(options).format(date);
      node.title = dateFormat(FULL).format(date);
      return;
    }
    const text = formatDate(seconds, node.dataset.format, Date.now());
    node.textContent = text ?? node.dataset.fallback;
    if (text !== null) {
      const full = dateFormat(FULL).format(date);
      node.title = node.dataset.fallback ? `${full} (sent as ${node.dataset.fallback})` : full;
    }
  }

  function renderAllTimes() {
    document.querySelectorAll("time[data-kind]").forEach(renderTime);
  }

  /** Year, month and day of ``date`` in the chosen zone, as numbers. */
  function calendar(date) {
    const parts = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "numeric", day: "numeric",
                                                     timeZone: zone() }).formatToParts(date);
    const part = (type) => Number(parts.find((p) => p.type === type).value);
    return { year: part("year"), month: part("month"), day: part("day") };
  }

  function dayWord(date, now) {
    const day = (d) => {
      const { year, month, day: dd } = calendar(d);
      return Date.UTC(year, month - 1, dd) / 86400000;
    };
    const diff = day(date) - day(new Date(now));
    if (Math.abs(diff) > 1) return null;
    return new Intl.RelativeTimeFormat(viewerLocale(), { numeric: "auto" }).format(diff, "day");
  }

  function ago(date, now) {
    const seconds = Math.round((date.getTime() - now) / 1000);
    const relative = new Intl.RelativeTimeFormat(viewerLocale(), { numeric: "auto" });
    const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600],
                   ["minute", 60]];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return relative.format(Math.trunc(seconds / size), unit);
    }
    return relative.format(0, "second");
  }

  const DATE_TOKENS = {
    date_num: (d) => {
      const { year, month, day } = calendar(d);
      return `${year}-${pad(month)}-${pad(day)}`;
    },
    date: (d) => dateFormat(DATE).format(d),
    date_short: (d) => dateFormat(DATE_SHORT).format(d),
    date_long: (d) => dateFormat(DATE_LONG).format(d),
    date_pretty: (d, now) => dayWord(d, now) ?? dateFormat(DATE).format(d),
    date_short_pretty: (d, now) => dayWord(d, now) ?? dateFormat(DATE_SHORT).format(d),
    date_long_pretty: (d, now) => dayWord(d, now) ?? dateFormat(DATE_LONG).format(d),
    time: (d) => dateFormat({ hour: "numeric", minute: "2-digit" }).format(d),
    time_secs: (d) => dateFormat({ hour: "numeric", minute: "2-digit", second: "2-digit" }).format(d),
    ago,
  };

  function formatDate(seconds, format, now) {
    if (!format || !Number.isFinite(seconds)) return null;
    const date = new Date(seconds * 1000);
    if (Number.isNaN(date.getTime())) return null;
    let known = true;
    const text = format.replace(/\{(\w+)\}/g, (_, token) => {
      const render = DATE_TOKENS[token];
      if (!render) known = false;
      return render ? render(date, now) : "";
    });
    return known ? text : null; // Slack shows the fallback for tokens it does not know
  }

  // "5 minutes ago" and "today" go stale while the page is open.
  setInterval(renderAllTimes, 30000);

  // ------------------------------------------------------------------------------------ Block Kit

  function textObject(object) {
    if (!object || typeof object.text !== "string") return "";
    // plain_text is shown as sent: Slack parses no markup or entities in it.
    return object.type === "mrkdwn" ? mrkdwn(object.text) : document.createTextNode(object.text);
  }

  /** Blocks as Slack lays them out; ctx says where buttons live ({message, kind, unfurlUrl}). */
  function renderBlocks(blocks, ctx) {
    const container = el("div", { class: "blocks" });
    for (const block of blocks) {
      if (block && typeof block === "object") container.append(renderBlock(block, ctx));
    }
    return container;
  }

  function renderBlock(block, ctx) {
    switch (block.type) {
      case "header":
        return el("div", { class: "b-header", role: "heading", "aria-level": 3 }, textObject(block.text));
      case "section":
        return section(block, ctx);
      case "context":
        return el("div", { class: "b-context" },
          ...(block.elements || []).map((item) => item.type === "image"
            ? imagePlaceholder(item, "b-context-image")
            : el("span", { class: "b-context-item" }, textObject(item))));
      case "divider":
        return el("hr", { class: "b-divider" });
      case "actions":
        return el("div", { class: "b-actions" },
          ...(block.elements || []).map((item) => blockElement(item, ctx, block.block_id)));
      case "image":
        return imagePlaceholder(block, "b-image");
      default:
        return el("div", { class: "b-unsupported" }, `[${String(block.type)} block: not previewed here]`);
    }
  }

  function section(block, ctx) {
    const body = el("div", { class: "b-section-body" });
    if (block.text) body.append(el("div", { class: "b-text" }, textObject(block.text)));
    if (Array.isArray(block.fields)) {
      body.append(el("div", { class: "b-fields" },
        ...block.fields.map((field) => el("div", { class: "b-field" }, textObject(field)))));
    }
    const node = el("div", { class: "b-section" }, body);
    if (block.accessory) {
      node.append(el("div", { class: "b-accessory" }, blockElement(block.accessory, ctx, block.block_id)));
    }
    return node;
  }

  function imagePlaceholder(item, className) {
    // No image is fetched: the page makes no request outside this server.
    return el("span", { class: className, role: "img", "aria-label": item.alt_text || "image" },
      `[image: ${item.alt_text || "no description"}]`);
  }

  function blockElement(item, ctx, blockId) {
    if (item.type === "button") return button(item, ctx, blockId);
    if (item.type === "overflow") return overflow(item, ctx, blockId);
    if (item.type === "external_select" && ctx.kind === "view") return externalSelect(item, ctx, blockId);
    if (item.type === "static_select" && ctx.kind === "view") return staticSelect(item, ctx, blockId);
    if (item.type === "image") return imagePlaceholder(item, "b-context-image");
    return el("span", { class: "b-unsupported" }, `[${String(item.type)}]`);
  }

  function button(item, ctx, blockId) {
    const style = item.style === "primary" || item.style === "danger" ? ` ${item.style}` : "";
    const label = item.text && typeof item.text.text === "string" ? item.text.text : "";
    const attrs = { class: `b-button${style}`, "aria-label": item.accessibility_label, "data-action": item.action_id };
    const href = safeHref(item.url);
    if (href) {
      // A URL button opens the link, and Slack still sends the click to the app.
      return el("a", { ...attrs, href, target: "_blank", rel: "noopener noreferrer",
                       onclick: () => { sendAction(item, ctx, blockId, null); } }, label);
    }
    return el("button", { ...attrs, type: "button",
                          onclick: (event) => { sendAction(item, ctx, blockId, event.currentTarget); } }, label);
  }

  /** Slack's overflow menu: a "⋯" button opening its options; a choice sends the overflow's action. */
  function overflow(item, ctx, blockId) {
    const options = Array.isArray(item.options) ? item.options : [];
    const menu = el("div", { class: "b-overflow-menu", role: "menu", hidden: true },
      ...options.map((option) => el("button", {
        type: "button", role: "menuitem", class: "b-overflow-item",
        onclick: (event) => {
          menu.hidden = true;
          sendAction({ action_id: item.action_id, selected_option: option.value ?? "" }, ctx, blockId,
                     event.currentTarget);
        },
      }, option.text && typeof option.text.text === "string" ? option.text.text : "")));
    const toggle = el("button", {
      type: "button", class: "b-button b-overflow", "aria-label": "More actions", "aria-haspopup": "menu",
      "data-action": item.action_id, onclick: () => { menu.hidden = !menu.hidden; },
    }, "⋯");
    return el("span", { class: "b-overflow-wrap" }, toggle, menu);
  }

  /** Slack's external_select in a modal: each keystroke asks the app for options (block_suggestion), a
   *  click on one picks it (block_actions from inside the view). */
  function externalSelect(item, ctx, blockId) {
    const list = el("div", { class: "b-select-options", role: "listbox" });
    const placeholder = item.placeholder && typeof item.placeholder.text === "string" ? item.placeholder.text : "";
    const ask = { view_id: ctx.view.id, action_id: item.action_id, block_id: blockId ?? "", viewer: state.viewer };
    let asked = 0;
    const input = el("input", {
      type: "search", class: "b-select", placeholder, "aria-label": placeholder, "data-action": item.action_id,
      oninput: async () => {
        const mine = ++asked;
        const value = input.value;
        list.replaceChildren();
        if (value.trim().length < (item.min_query_length ?? 3)) return;
        const result = await post("/playground/suggest", { ...ask, value });
        if (mine !== asked || !result.ok) return;
        const options = result.data.ack && Array.isArray(result.data.ack.options) ? result.data.ack.options : [];
        list.replaceChildren(...options.map((option) => el("button", {
          type: "button", role: "option", class: "b-select-option",
          onclick: async () => {
            list.replaceChildren();
            input.value = option.text && typeof option.text.text === "string" ? option.text.text : "";
            await post("/playground/pick", { ...ask, option });
            poke();
          },
        }, option.text && typeof option.text.text === "string" ? option.text.text : "")));
      },
    });
    const initial = item.initial_option && item.initial_option.text;
    if (initial && typeof initial.text === "string") input.value = initial.text;
    return el("span", { class: "b-select-wrap" }, input, list);
  }

  /** Slack's static_select in a view (Home's settings): its options at once; a choice sends block_actions. */
  function staticSelect(item, ctx, blockId) {
    const options = Array.isArray(item.options) ? item.options : [];
    const label = (option) => (option.text && typeof option.text.text === "string" ? option.text.text : "");
    const placeholder = item.placeholder && typeof item.placeholder.text === "string" ? item.placeholder.text : "";
    const initial = item.initial_option ? item.initial_option.value : undefined;
    const select = el("select", {
      class: "b-select", "aria-label": placeholder, "data-action": item.action_id,
      onchange: async () => {
        const option = options[select.selectedIndex - 1];
        if (!option) return;
        await post("/playground/pick", { view_id: ctx.view.id, action_id: item.action_id, block_id: blockId ?? "",
                                         viewer: state.viewer, option, kind: "static_select" });
        poke();
      },
    }, el("option", { value: "", disabled: true }, placeholder),
    ...options.map((option) => el("option", { value: option.value ?? "" }, label(option))));
    select.selectedIndex = Math.max(0, options.findIndex((option) => option.value === initial) + 1);
    return el("span", { class: "b-select-wrap" }, select);
  }

  function builderUrl(blocks) {
    return BUILDER + encodeURIComponent(JSON.stringify({ blocks }));
  }

  /** The raw JSON of a payload, pretty-printed, with a Block Kit Builder link when it has blocks. */
  function jsonPanel(payload, blocks) {
    const pretty = JSON.stringify(payload, null, 2);
    const copy = el("button", { type: "button", class: "plain" }, "Copy");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(pretty);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Copy failed";
      }
      setTimeout(() => { copy.textContent = "Copy"; }, 1500);
    });
    const builder = Array.isArray(blocks) && blocks.length
      ? el("a", { class: "builder-link", href: builderUrl(blocks), target: "_blank", rel: "noopener noreferrer" },
        "Open in Block Kit Builder ↗")
      : null;
    const tools = el("div", { class: "json-tools" }, builder, copy);
    return el("details", { class: "json" }, el("summary", {}, "Block Kit JSON"), tools,
      el("pre", { class: "json-body" }, pretty));
  }

  // ------------------------------------------------------------------------------------ messages

  function nextId(prefix) {
    state.counter += 1;
    return `${prefix}${state.counter}`;
  }

  function newTs() {
    state.counter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(state.counter).padStart(6, "0")}`;
  }

  function clock() {
    return timeNode(Math.floor(Date.now() / 1000), "clock", "msg-time");
  }

  function addMessage({ author, bot = false, ephemeral = false, extraClass = "" }) {
    const id = nextId("m");
    const body = el("div", { class: "msg-body" });
    const extras = el("div", { class: "msg-extras" });
    const unfurls = el("div", { class: "unfurls" });
    const meta = el("div", { class: "msg-meta" },
      el("span", { class: "msg-author" }, author),
      bot ? el("span", { class: "badge" }, "APP") : null,
      clock());
    const node = el("article", { class: `msg${bot ? " bot" : " user"}${extraClass}`, "data-id": id },
      el("div", { class: "avatar", "aria-hidden": "true" }, author.slice(0, 1).toUpperCase()),
      el("div", { class: "msg-main" },
        ephemeral ? el("div", { class: "only-you" }, "Only visible to you") : null,
        meta, body, extras, unfurls));
    const message = { id, ts: newTs(), ephemeral, node, body, extras, unfurls: new Map(), unfurlBox: unfurls,
                      acked: false, replaced: false };
    state.messages.set(id, message);
    $("empty-hint")?.remove();
    const conversation = $("conversation");
    conversation.append(node);
    conversation.scrollTop = conversation.scrollHeight;
    return message;
  }

  function botMessage(ephemeral) {
    return addMessage({ author: "clue", bot: true, ephemeral, extraClass: ephemeral ? " ephemeral" : "" });
  }

  /** Show a Slack message payload ({text, blocks, ...}) in a message, replacing what it showed. */
  function setContent(message, payload) {
    const blocks = Array.isArray(payload.blocks) ? payload.blocks : [];
    const ctx = { message, kind: message.ephemeral ? "ephemeral" : "message" };
    const content = blocks.length
      ? renderBlocks(blocks, ctx)
      : el("div", { class: "b-text" }, mrkdwn(typeof payload.text === "string" ? payload.text : ""));
    message.body.replaceChildren(content);
    message.extras.replaceChildren(jsonPanel(payload, blocks));
    message.node.classList.remove("pending");
    flash(message.node);
  }

  function setUnfurl(message, url, unfurl) {
    const blocks = unfurl && Array.isArray(unfurl.blocks) ? unfurl.blocks : [];
    const ctx = { message, kind: "unfurl", unfurlUrl: url };
    const shown = decode(url);
    const card = el("div", { class: "unfurl", "data-url": url },
      el("div", { class: "unfurl-source" }, el("span", { class: "unfurl-app" }, "clue"), " · ", shown),
      renderBlocks(blocks, ctx),
      jsonPanel(unfurl, blocks));
    const previous = message.unfurls.get(url);
    if (previous) previous.replaceWith(card);
    else message.unfurlBox.append(card);
    message.unfurls.set(url, card);
    flash(card);
  }

  function removeMessage(message) {
    message.node.remove();
    state.messages.delete(message.id);
  }

  function flash(node) {
    node.classList.remove("updated");
    void node.offsetWidth; // restart the animation
    node.classList.add("updated");
  }

  function systemNotice(text) {
    const node = el("p", { class: "system", role: "status" }, text);
    $("empty-hint")?.remove();
    $("conversation").append(node);
    node.scrollIntoView({ block: "nearest" });
  }

  function userText(text) {
    // A person's own message: links become links, the rest is text.
    const fragment = document.createDocumentFragment();
    let done = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      if (match.index > done) fragment.append(text.slice(done, match.index));
      fragment.append(externalLink(match[0], match[0]));
      done = match.index + match[0].length;
    }
    if (done < text.length) fragment.append(text.slice(done));
    return fragment;
  }

  const URL_PATTERN = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]}'’]/g;

  // ------------------------------------------------------------------------------------ talking to the app

  async function post(path, body, method = "POST") {
    let response;
    try {
      response = await fetch(path, { method, headers: { "content-type": "application/json" },
                                     body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      return { ok: false, error: `the playground server did not answer (${error.message})` };
    }
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    if (!response.ok) return { ok: false, error: data.error || `HTTP ${response.status}`, data };
    return { ok: true, data };
  }

  async function runCommand(text) {
    addMessage({ author: state.config.user.name, ephemeral: true, extraClass: " command" })
      .body.append(el("code", { class: "command-text" }, `${state.config.command} ${text}`.trim()));
    const message = botMessage(true);
    message.node.classList.add("pending");
    message.body.append(el("span", { class: "typing" }, "…"));
    const key = nextId("c");
    state.keys.set(key, message.id); // before sending: a response_url post may beat the ack here
    const result = await post("/playground/command", { text, response_key: key, viewer: state.viewer });
    if (message.replaced) return;
    if (!result.ok) return failed(message, result.error);
    const { status, ack, ack_text: ackText } = result.data;
    if (status !== 200) return failed(message, `the app answered HTTP ${status}`);
    if (ack && typeof ack === "object") {
      if (ack.response_type === "in_channel") {
        message.ephemeral = false;
        message.node.classList.remove("ephemeral");
        message.node.querySelector(".only-you")?.remove();
      }
      setContent(message, ack);
    } else if (ackText) {
      setContent(message, { text: ackText });
    } else {
      removeMessage(message); // an empty ack shows nothing in Slack
    }
    poke();
  }

  function failed(message, error) {
    removeMessage(message);
    systemNotice(`Could not deliver to the app: ${error}`);
  }

  // ------------------------------------------------------------------------------------ modals (views.*)

  /** Show a views.open / views.update call as Slack shows a modal: one at a time, over the channel. */
  function showModal(call) {
    let view = call.body.view;
    if (typeof view === "string") {
      try {
        view = JSON.parse(view);
      } catch {
        return;
      }
    }
    if (!view || typeof view !== "object") return;
    // The fake Slack names a view after the views.open (or views.publish: the Home tab) call that opened it.
    const id = call.name === "views.open" || call.name === "views.publish" ? `V${String(call.seq).padStart(8, "0")}`
      : String(call.body.view_id || "");
    if (call.name === "views.update" && (!state.modal || state.modal.id !== id)) return;
    const blocks = Array.isArray(view.blocks) ? view.blocks : [];
    const message = { id: nextId("m"), ts: newTs(), ephemeral: true };
    const ctx = { message, kind: "view", view: { id, hash: `h${call.seq}`, private_metadata: view.private_metadata } };
    const title = view.title && typeof view.title.text === "string" ? view.title.text
      : view.type === "home" ? "Home" : "";
    const close = view.close && typeof view.close.text === "string" ? view.close.text : "Close";
    const node = el("div", { class: "modal-backdrop", role: "dialog", "aria-modal": "true", "aria-label": title },
      el("div", { class: "modal", "data-callback": view.callback_id || "" },
        el("div", { class: "modal-title" }, title),
        el("div", { class: "modal-body" }, renderBlocks(blocks, ctx)),
        el("div", { class: "modal-footer" },
          el("button", { type: "button", class: "b-button", onclick: closeModal }, close)),
        jsonPanel(view, blocks)));
    closeModal();
    state.modal = { id, node };
    document.body.append(node);
  }

  function closeModal() {
    if (state.modal) state.modal.node.remove();
    state.modal = null;
  }

  async function sendAction(item, ctx, blockId, control) {
    const key = nextId("a");
    state.keys.set(key, ctx.message.id);
    const container = ctx.kind === "view"
      ? { kind: "view", view_id: ctx.view.id, hash: ctx.view.hash, private_metadata: ctx.view.private_metadata || "" }
      : { kind: ctx.kind, message_ts: ctx.message.ts };
    if (ctx.kind === "unfurl") container.unfurl_url = ctx.unfurlUrl;
    if (control) {
      control.disabled = true;
      control.setAttribute("aria-busy", "true");
    }
    const result = await post("/playground/action", {
      action_id: item.action_id, value: item.value ?? "", block_id: blockId ?? "", response_key: key, container,
      viewer: state.viewer, selected_option: item.selected_option,
    });
    if (control) {
      control.disabled = false;
      control.removeAttribute("aria-busy");
    }
    if (!result.ok) systemNotice(`Could not deliver the click: ${result.error}`);
    else if (result.data.status !== 200) systemNotice(`The app answered the click with HTTP ${result.data.status}`);
    poke();
  }

  async function postMessage(text) {
    const message = addMessage({ author: state.config.user.name });
    message.body.append(userText(text));
    const urls = [...text.matchAll(URL_PATTERN)].map((m) => m[0]).slice(0, 10);
    if (!urls.length) return;
    state.posts.set(`${state.config.channel.id}/${message.ts}`, message);
    const result = await post("/playground/link", { urls, message_ts: message.ts, viewer: state.viewer });
    if (!result.ok) systemNotice(`Could not deliver the link_shared event: ${result.error}`);
    poke();
  }

  // ------------------------------------------------------------------------------------ Work Objects

  // chat.unfurl's metadata turns an unfurl into a Work Object card (its Block Kit stays as the fallback);
  // clicking the card opens the flexpane: Slack sends entity_details_requested, the app answers with
  // entity.presentDetails, and the pane shows what it sent for this viewer (or its error).

  const TAG_COLORS = new Set(["red", "yellow", "green", "gray", "blue"]);
  const FLEXPANE_ERRORS = {
    restricted: "You don't have access to this clue here.",
    not_found: "This clue can't be found.",
    internal_error: "Something went wrong while loading this clue. Try again in a moment.",
    timeout: "The CRM took too long to answer. Try again in a moment.",
  };

  /** A Web API argument that may arrive as an object or as its JSON text. */
  function jsonParam(value) {
    if (typeof value !== "string") return value && typeof value === "object" ? value : null;
    try {
      const parsed = JSON.parse(value);
      return parsed && typeof parsed === "object" ? parsed : null;
    } catch {
      return null;
    }
  }

  function woText(value) {
    return typeof value === "string" ? value : "";
  }

  function applyWorkObjects(message, metadata) {
    const entities = jsonParam(metadata)?.entities;
    if (!message || !Array.isArray(entities)) return;
    for (const entity of entities) {
      if (!entity || typeof entity !== "object") continue;
      const card = message.unfurls.get(entity.app_unfurl_url);
      if (!card) continue;
      card.querySelector(":scope > .wo-card")?.remove();
      card.classList.add("has-wo");
      card.prepend(workObjectCard(entity, message, card));
    }
  }

  function woValue(field) {
    const value = field.value;
    if (field.type === "slack#/types/timestamp" && Number.isInteger(value)) return timeNode(value, "wo", "wo-time");
    if (field.type === "array" && Array.isArray(value)) {
      return el("ul", { class: "wo-list" }, ...value.map((item) => el("li", {}, String(item?.value ?? ""))));
    }
    const text = typeof value === "string" || typeof value === "number" ? String(value) : "";
    if (field.type === "slack#/types/link" && safeHref(text)) return externalLink(text, text);
    if (TAG_COLORS.has(field.tag_color)) return el("span", { class: `wo-tag wo-tag-${field.tag_color}` }, text);
    return el("span", { class: field.long ? "wo-long" : "" }, text);
  }

  /** custom_fields in display_order, as label / value pairs; at most ``limit`` of them. */
  function woFields(payload, limit) {
    const fields = (Array.isArray(payload.custom_fields) ? payload.custom_fields : [])
      .filter((f) => f && typeof f === "object");
    const order = Array.isArray(payload.display_order) ? payload.display_order : [];
    const rank = (f) => (order.includes(f.key) ? order.indexOf(f.key) : order.length);
    fields.sort((a, b) => rank(a) - rank(b));
    return el("dl", { class: "wo-fields" }, ...fields.slice(0, limit).flatMap((field) => [
      el("div", { class: `wo-field${field.long || field.type === "array" ? " wo-wide" : ""}` },
        el("dt", {}, woText(field.label)), el("dd", {}, woValue(field))),
    ]));
  }

  function woActions(payload, ctx) {
    const actions = Array.isArray(payload.actions?.primary_actions) ? payload.actions.primary_actions : [];
    return actions.slice(0, 2).filter((a) => a && typeof a === "object").map((action) => button({
      action_id: action.action_id, value: action.value, url: action.url, style: action.style,
      accessibility_label: action.accessibility_label, text: { type: "plain_text", text: woText(action.text) },
    }, ctx, "work_object"));
  }

  function woHeader(attributes) {
    const parts = [woText(attributes.display_type), attributes.display_id ? `#${woText(attributes.display_id)}` : ""];
    return el("div", { class: "wo-head" }, el("span", { class: "wo-app" }, woText(attributes.product_name) || "clue"),
      ...parts.filter(Boolean).map((part) => el("span", { class: "wo-kind" }, part)));
  }

  function workObjectJson(payload, label) {
    const panel = jsonPanel(payload, null);
    panel.querySelector("summary").textContent = label;
    return panel;
  }

  function workObjectCard(entity, message, unfurlCard) {
    const payload = entity.entity_payload && typeof entity.entity_payload === "object" ? entity.entity_payload : {};
    const attributes = payload.attributes && typeof payload.attributes === "object" ? payload.attributes : {};
    const ctx = { message, kind: "unfurl", unfurlUrl: entity.app_unfurl_url };
    const open = () => { openFlexpane(entity, message); };
    const fallback = el("button", { type: "button", class: "plain wo-fallback", "aria-pressed": "false" },
      "Block Kit fallback");
    fallback.addEventListener("click", () => {
      const shown = unfurlCard.classList.toggle("show-fallback");
      fallback.setAttribute("aria-pressed", String(shown));
    });
    return el("div", { class: "wo-card" },
      woHeader(attributes),
      el("button", { type: "button", class: "wo-title", onclick: open, title: "Open details" },
        woText(attributes.title?.text)),
      woFields(payload, 6),
      el("div", { class: "wo-foot" }, ...woActions(payload, ctx),
        el("button", { type: "button", class: "plain wo-open", onclick: open }, "Details ›"), fallback),
      workObjectJson(entity, "Work Object JSON"));
  }

  function flexpanePanel() {
    let pane = $("flexpane");
    if (!pane) {
      pane = el("aside", { id: "flexpane", class: "flexpane", tabindex: "-1", "aria-label": "Clue details" });
      document.body.append(pane);
    }
    pane.hidden = false;
    return pane;
  }

  function flexpaneHead(pane) {
    return el("div", { class: "fp-top" }, el("span", { class: "fp-app" }, "clue"),
      el("button", { type: "button", class: "plain fp-close", "aria-label": "Close details",
                     onclick: () => { pane.hidden = true; } }, "✕"));
  }

  async function openFlexpane(entity, message) {
    const pane = flexpanePanel();
    const title = woText(entity.entity_payload?.attributes?.title?.text);
    pane.replaceChildren(flexpaneHead(pane), el("h3", { class: "fp-title" }, title),
      el("p", { class: "fp-loading", role: "status" }, "Loading…"));
    state.flexpane = { trigger: null, message };
    pane.focus();
    const result = await post("/playground/entity", {
      external_ref: entity.external_ref, entity_url: entity.url, app_unfurl_url: entity.app_unfurl_url,
      message_ts: message.ts, viewer: state.viewer,
    });
    if (!result.ok || result.data.status !== 200) {
      pane.querySelector(".fp-loading").textContent =
        `Could not deliver entity_details_requested: ${result.ok ? `HTTP ${result.data.status}` : result.error}`;
      return;
    }
    state.flexpane.trigger = result.data.trigger_id;
    poke();
  }

  function showFlexpane(body) {
    const pane = $("flexpane");
    // Only the pane that asked: a trigger_id answers one click.
    if (!pane || pane.hidden || !state.flexpane || body.trigger_id !== state.flexpane.trigger) return;
    const error = jsonParam(body.error);
    const metadata = jsonParam(body.metadata);
    let content;
    if (error || !metadata) {
      const status = woText(error?.status);
      content = el("div", { class: "fp-error", role: "status" },
        el("strong", {}, woText(error?.custom_title) || "Can't show this clue"),
        el("p", {}, woText(error?.custom_message) || FLEXPANE_ERRORS[status] || `Error: ${status || "no metadata"}`));
    } else {
      const payload = metadata.entity_payload && typeof metadata.entity_payload === "object"
        ? metadata.entity_payload : {};
      const attributes = payload.attributes && typeof payload.attributes === "object" ? payload.attributes : {};
      const ctx = { message: state.flexpane.message, kind: "unfurl", unfurlUrl: metadata.url };
      content = el("div", { class: "fp-body" }, woHeader(attributes),
        el("h3", { class: "fp-title" }, woText(attributes.title?.text)),
        woFields(payload, 100), el("div", { class: "wo-foot" }, ...woActions(payload, ctx)));
    }
    pane.replaceChildren(flexpaneHead(pane), content, workObjectJson(body, "entity.presentDetails JSON"));
    flash(pane);
  }

  function describeDetails(body) {
    const error = jsonParam(body.error);
    return `entity.presentDetails: ${error ? `error ${woText(error.status)}` : "flexpane metadata"}`;
  }

  // ------------------------------------------------------------------------------------ what Slack received

  function apply(call) {
    const body = call.body || {};
    if (call.kind === "response_url") {
      const message = state.messages.get(state.keys.get(call.name));
      if (body.delete_original) {
        if (message) removeMessage(message);
      } else if (body.replace_original) {
        if (message) {
          message.replaced = true;
          setContent(message, body);
        }
      } else {
        setContent(botMessage(body.response_type !== "in_channel"), body);
      }
    } else if (call.kind === "api" && (call.name === "views.open" || call.name === "views.update")) {
      showModal(call);
    } else if (call.kind === "api" && call.name === "views.publish"
               && body.user_id === state.config.viewers[state.viewer].id) {
      showModal(call); // the Home tab, shown over the channel like a modal
    } else if (call.kind === "api" && call.name === "chat.postMessage"
               && body.channel === state.config.viewers[state.viewer].id) {
      setContent(addMessage({ author: "clue (direct message)", bot: true }), body); // a nudge, "assigned to you"
    } else if (call.kind === "api" && call.name === "chat.unfurl") {
      const message = state.posts.get(`${body.channel}/${body.ts}`);
      let unfurls = body.unfurls;
      if (typeof unfurls === "string") {
        try {
          unfurls = JSON.parse(unfurls);
        } catch {
          unfurls = null;
        }
      }
      if (message && unfurls && typeof unfurls === "object") {
        for (const [url, unfurl] of Object.entries(unfurls)) setUnfurl(message, url, unfurl);
      }
      applyWorkObjects(message, body.metadata);
    } else if (call.kind === "api" && call.name === "entity.presentDetails") {
      showFlexpane(body);
    } else if (call.kind === "api" && call.name === "chat.postEphemeral"
               && body.channel === state.config.channel.id) {
      setContent(botMessage(true), body); // Show in chat, from the Find a clue modal
    } else if (call.kind === "api" && call.name === "chat.postMessage"
               && body.channel === state.config.channel.id) {
      // an alert or a digest (bot.alerts); with thread_ts, a watched clue's reply in the thread of its card
      const message = botMessage(false);
      if (body.thread_ts) {
        message.node.classList.add("thread-reply");
        message.body.before(el("div", { class: "in-thread" }, "↳ replied in a thread"));
      }
      setContent(message, body);
    }
  }

  function describe(call) {
    const body = call.body || {};
    if (call.kind === "response_url") {
      const what = body.delete_original ? "delete_original" : body.replace_original ? "replace_original"
        : body.response_type === "in_channel" ? "new in_channel message" : "new ephemeral message";
      return `response_url ${call.name}: ${what}`;
    }
    if (call.name === "entity.presentDetails") return describeDetails(body);
    if (call.name === "chat.unfurl" && body.unfurls && typeof body.unfurls === "object") {
      const count = Object.keys(body.unfurls).length;
      return `chat.unfurl: ${count} link${count === 1 ? "" : "s"}`;
    }
    return call.name;
  }

  function log(call) {
    const list = $("log");
    list.prepend(el("li", {}, el("details", {},
      el("summary", {}, el("span", { class: "seq" }, `#${call.seq}`), " ", describe(call)),
      el("pre", { class: "json-body" }, JSON.stringify(call.body, null, 2)))));
    while (list.children.length > LOG_LIMIT) list.lastElementChild.remove();
  }

  // ------------------------------------------------------------------------------------ skipped unfurls

  // The app tells nobody in Slack when it does not unfurl a link; its log says why (unfurl.skipped, keyed
  // by the link_shared event), and the playground shows that under the message.
  const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;
  const SKIP_REASONS = {
    not_a_clue_link: (n) => `${plural(n.links, "link")} ${n.links === 1 ? "is" : "are"} not a clue link: links ` +
      `unfurl when they match CLUE_URL_TEMPLATE (${state.config.clue_url_template}) or CLUE_URL_PATTERNS. In ` +
      "Slack, links outside the app's unfurl domains never even reach it.",
    too_many_links: (n) => `${plural(n.links, "more clue link")} not unfurled: at most ${n.limit} per message.`,
    not_allowed: (n) => `refused by the access rules (${n.rule}); in Slack nobody is told.`,
    rate_limited: (n) => `rate limited: this person looked up too many clues; the budget refills in ${n.seconds} s.`,
    not_found: (n) => `clue ${n.clue_id} does not exist in the CRM.`,
  };

  function skipText(note) {
    const known = SKIP_REASONS[note.reason];
    if (known) return known(note);
    // crm_unavailable, crm_error, crm_auth, crm_clock: the lookup failed.
    return `clue ${note.clue_id ?? "?"}: CRM trouble (${note.error || note.reason}); the link gets no preview.`;
  }

  function showNote(note) {
    const message = state.posts.get(`${state.config.channel.id}/${note.message_ts}`);
    if (!message) return;
    message.unfurlBox.append(el("p", { class: "unfurl-skip", role: "status", "data-reason": note.reason },
      el("strong", {}, "Not unfurled: "), skipText(note)));
  }

  function logNote(note) {
    const list = $("log");
    list.prepend(el("li", { class: "log-note" }, el("details", {},
      el("summary", {}, el("span", { class: "seq" }, `log`), ` unfurl.skipped: ${note.reason}`),
      el("pre", { class: "json-body" }, JSON.stringify(note, null, 2)))));
    while (list.children.length > LOG_LIMIT) list.lastElementChild.remove();
  }

  function poke() {
    state.wake?.();
  }

  function nap(ms) {
    return new Promise((resolve) => {
      state.wake = resolve;
      setTimeout(resolve, ms);
    });
  }

  async function pollForever() {
    for (;;) {
      let more = false;
      try {
        const response = await fetch(`/playground/messages?since=${state.since}&notes_since=${state.notesSince}`);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const data = await response.json();
        for (const call of data.calls) {
          apply(call);
          log(call);
        }
        for (const note of data.notes) {
          showNote(note);
          logNote(note);
        }
        more = data.calls.length > 0 || data.notes.length > 0;
        state.since = data.last;
        state.notesSince = data.last_note;
        $("offline").hidden = true;
      } catch {
        $("offline").hidden = false;
      }
      if (!more) await nap(document.hidden ? HIDDEN_POLL_MS : POLL_MS);
    }
  }

  // ------------------------------------------------------------------------------------ controls

  function submit(text) {
    const trimmed = text.trim();
    if (!trimmed) return;
    state.history.push(trimmed);
    if (trimmed.startsWith("/")) {
      const name = trimmed.split(/\s/, 1)[0];
      if (name !== state.config.command) {
        systemNotice(`${name} is not a command here: the app only answers ${state.config.command}.`);
        return;
      }
      runCommand(trimmed.slice(name.length).replace(/^\s+/, ""));
    } else {
      postMessage(trimmed);
    }
  }

  function setUpComposer() {
    const input = $("composer-input");
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      input.value = "";
      submit(text);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowUp" && !input.value && state.history.length) {
        event.preventDefault();
        input.value = state.history[state.history.length - 1];
      }
    });
    $("examples").addEventListener("click", (event) => {
      const chip = event.target.closest("button");
      if (!chip) return;
      const link = chip.dataset.link && state.config.clue_url_template.replace("{id}", chip.dataset.link);
      submit(link || chip.dataset.text);
      input.focus();
    });
    $("clear").addEventListener("click", () => {
      $("conversation").replaceChildren();
      state.messages.clear();
      state.posts.clear();
      state.keys.clear();
      input.focus();
    });
  }

  function setUpLeads() {
    const panel = $("leads");
    if (!state.config.sandbox_origin) return; // a real CRM: its leads are its own
    panel.hidden = false;
    panel.addEventListener("click", async (event) => {
      const stage = event.target.closest("button[data-stage]");
      if (stage) {
        const moved = await post("/playground/stage", JSON.parse(stage.dataset.stage));
        $("leads-status").textContent = moved.ok
          ? `Clue ${moved.data.clue} is now at stage ${moved.data.stage} in the sandbox CRM.`
          : `The sandbox refused: ${moved.error}`;
        return;
      }
      const pushChip = event.target.closest("button[data-push]");
      if (pushChip) {
        const pushed = await post("/playground/push", JSON.parse(pushChip.dataset.push));
        const answer = pushed.ok ? pushed.data.answers[0] : null;
        $("leads-status").textContent = answer && answer.status === 200
          ? `The sandbox CRM renamed clue 1 and pushed edit_qw_customer; the app echoed its noise. ` +
            `/clue 1 now reads the CRM again.`
          : `The push failed: ${pushed.ok ? JSON.stringify(answer) : pushed.error}`;
        return;
      }
      const chip = event.target.closest("button[data-leads]");
      if (!chip) return;
      const result = await post("/playground/leads", JSON.parse(chip.dataset.leads));
      const added = result.ok ? result.data.ids.length : 0;
      $("leads-status").textContent = result.ok
        ? `Added ${added} lead${added === 1 ? "" : "s"} to the sandbox CRM.`
        : `The sandbox refused: ${result.error}`;
    });
  }

  function setUpPersonal() {
    const status = $("personal-status");
    const said = {
      sent: "Sent: see the direct message in the conversation.",
      not_linked: "You are not linked yet: type /clue me and click Yes.",
      empty: "Nothing is due and nothing is new: no nudge is sent.",
      crm_failed: "The CRM did not answer: no nudge.",
      slack_failed: "Slack refused the message.",
      unavailable: "No database (DATABASE_URL=off): no nudges.",
    };
    $("personal").addEventListener("click", async (event) => {
      const chip = event.target.closest("button[data-personal]");
      if (!chip) return;
      const what = chip.dataset.personal;
      const result = await post(`/playground/${what}`, { viewer: state.viewer });
      if (!result.ok) {
        status.textContent = `The playground refused: ${result.error}`;
      } else if (what === "home") {
        status.textContent = "Home opened: the app publishes it (views.publish).";
        poke();
      } else {
        status.textContent = said[result.data.outcome] || String(result.data.outcome);
        poke();
      }
    });
  }

  function setUpFaults() {
    const panel = $("faults");
    if (!state.config.sandbox_origin) return; // a real CRM: nothing to break on purpose
    panel.hidden = false;
    const status = $("fault-status");
    panel.addEventListener("click", async (event) => {
      const chip = event.target.closest("button[data-fault]");
      if (!chip) return;
      const clear = chip.dataset.fault === "clear";
      const result = clear ? await post("/playground/faults", undefined, "DELETE")
        : await post("/playground/faults", JSON.parse(chip.dataset.fault));
      if (!result.ok) {
        status.textContent = `The sandbox refused: ${result.error}`;
        return;
      }
      for (const other of panel.querySelectorAll("button[data-fault]")) {
        other.setAttribute("aria-pressed", String(!clear && other === chip));
      }
      status.textContent = clear ? "No faults." : `${chip.textContent} is on for every CRM call.`;
    });
    for (const chip of panel.querySelectorAll("button[data-fault]")) {
      if (chip.dataset.fault !== "clear") chip.setAttribute("aria-pressed", "false");
    }
  }

  /** Who the page plays (a Slack user per language) and the zone dates render in. */
  function setUpViewer() {
    const language = $("viewer-locale");
    const zoneChoice = $("viewer-zone");
    const browserZone = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    zoneChoice.querySelector('option[value=""]').textContent = `Browser's (${browserZone})`;
    const stored = (key) => {
      try {
        return localStorage.getItem(key);
      } catch {
        return null; // storage off: every visit starts from the defaults
      }
    };
    const store = (key, value) => {
      try {
        localStorage.setItem(key, value);
      } catch {
        // the choice holds for this visit only
      }
    };
    const viewer = stored(STORED_VIEWER);
    if (viewer && viewer in state.config.viewers) state.viewer = viewer;
    const savedZone = stored(STORED_ZONE);
    if (savedZone && [...zoneChoice.options].some((o) => o.value === savedZone)) state.timeZone = savedZone;
    language.value = state.viewer;
    zoneChoice.value = state.timeZone;
    const describeViewer = () => {
      const { id, slack_locale: locale } = state.config.viewers[state.viewer];
      $("viewer-status").textContent = state.config.user_locale
        ? `You are ${id}, whose Slack language (users.info) is ${locale}.`
        : `You are ${id} (${locale}), but CLUE_USER_LOCALE is off: every card speaks ` +
          `${state.config.default_locale}.`;
    };
    describeViewer();
    language.addEventListener("change", () => {
      state.viewer = language.value in state.config.viewers ? language.value : "en";
      store(STORED_VIEWER, state.viewer);
      describeViewer();
      renderAllTimes();
    });
    zoneChoice.addEventListener("change", () => {
      state.timeZone = zoneChoice.value;
      store(STORED_ZONE, state.timeZone);
      renderAllTimes();
    });
  }

  async function start() {
    const response = await fetch("/playground/config");
    state.config = await response.json();
    state.since = state.config.last_seq;
    state.notesSince = state.config.last_note;
    $("example-link").textContent = state.config.example_link;
    $("channel-name").textContent = `# ${state.config.channel.name}`;
    setUpViewer();
    setUpComposer();
    setUpFaults();
    setUpLeads();
    setUpPersonal();
    document.body.dataset.ready = "true";
    pollForever();
  }

  start().catch((error) => {
    $("offline").hidden = false;
    $("offline").textContent = `The playground could not start: ${error.message}`;
  });
})();
