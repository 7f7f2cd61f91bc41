// Today: live calls on every line (server-sent events), hang-up, new messages, the lines, usage.
import { api, stream } from "../api.js";
import { me } from "../app.js";
import { banner, busy, h, mount, number, pill, say, when } from "../dom.js";
import { t } from "../i18n.js";
import { usageBars } from "./usage.js";

function hangUpPath(line, callId) {
  return line === "modem" ? `/admin/calls/${callId}/hangup` : `/admin/lines/${line}/calls/${callId}/hangup`;
}

export async function todayPage(main) {
  const live = h("div", {}, h("p", { class: "muted" }, t("today.connecting")));
  const lines = h("div");
  const ended = h("ul");
  const state = { calls: new Map(), lines: new Map() };
  const controller = new AbortController();

  function drawCalls() {
    if (!state.calls.size) { mount(live, h("p", { class: "muted", id: "no-live" }, t("today.noCalls"))); return; }
    mount(live, [...state.calls.values()].map((c) => h("div", {
      class: `live-call ${c.status}`, "data-call": c.call_id },
      h("div", { class: "row" }, h("strong", {}, number(c.number)),
        pill(t("callStatus." + c.status), c.status === "ringing" ? "warn" : "ok"),
        h("span", { class: "muted" }, c.label || (c.line === "modem" ? t("today.mainLine") : c.line))),
      me.can("admin") ? h("button", { class: "danger", type: "button", onclick: (ev) =>
        busy(ev.currentTarget, () => api(hangUpPath(c.line, c.call_id), { method: "POST" })) }, t("today.hangUp")) : null)));
  }

  function drawLines() {
    if (!state.lines.size) { mount(lines, h("p", { class: "muted" }, t("today.noLines"))); return; }
    mount(lines, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("today.line")), h("th", {}, t("today.state")),
      h("th", {}, t("today.signal")), h("th", {}, t("today.registration")))),
      h("tbody", {}, [...state.lines.values()].map((l) => {
        const radio = l.radio || {};
        const ready = l.modem === "ready";
        return h("tr", { "data-line": l.line }, h("td", {}, l.label || (l.line === "modem" ? t("today.mainLine") : l.line)),
          h("td", {}, pill(t("lineState." + (l.modem || "unknown")), ready ? "ok" : "bad")),
          h("td", {}, radio.signal_dbm !== undefined && radio.signal_dbm !== null ? `${radio.signal_dbm} dBm` : "—"),
          h("td", {}, radio.registration ? [t("registration." + radio.registration, {}, radio.registration),
            radio.operator ? ` · ${radio.operator}` : ""] : "—"));
      }))));
  }

  function onEvent(name, data) {
    if (name === "snapshot") {
      state.calls.clear();
      state.lines.clear();
      for (const l of data.lines) {
        state.lines.set(l.line, l);
        if (l.call) {
          state.calls.set(l.call.call_id, { call_id: l.call.call_id, line: l.line, label: l.label,
            number: l.call.number, status: l.call.state === "ringing" ? "ringing" : "answered" });
        }
      }
      drawLines();
    } else if (name === "call.ringing" || name === "call.dialing") {
      const label = (state.lines.get(data.line) || {}).label;
      state.calls.set(data.call_id, { call_id: data.call_id, line: data.line, label, number: data.number, status: "ringing" });
    } else if (name === "call.answered") {
      const c = state.calls.get(data.call_id) || { call_id: data.call_id, line: data.line, number: data.number };
      state.calls.set(data.call_id, { ...c, status: "answered" });
    } else if (name === "call.ended" || name === "call.screened" || name === "call.declined") {
      const c = state.calls.get(data.call_id);
      state.calls.delete(data.call_id);
      if (data.call_id) {
        ended.prepend(h("li", { "data-ended": data.call_id }, h("a", { href: `calls/${data.call_id}`, "data-link": true },
          `${number((c && c.number) || data.number)} · ${t("reason." + (data.reason || "ended"), {}, data.reason)}`),
          " ", h("span", { class: "muted" }, when(data.at))));
      }
    } else if (name === "modem.lost" || name === "modem.ready" || name === "line.unavailable") {
      const l = state.lines.get(data.line);
      if (l) { l.modem = name === "modem.ready" ? "ready" : "unavailable"; drawLines(); }
    }
    drawCalls();
  }

  async function follow() {
    let delay = 1000;
    while (!controller.signal.aborted) {
      try {
        await stream("/admin/live", onEvent, controller.signal);
        delay = 1000;
      } catch (err) {
        if (controller.signal.aborted) return;
        mount(live, h("p", { role: "alert" }, say(err)));
        delay = Math.min(delay * 2, 15000);
      }
      await new Promise((done) => setTimeout(done, delay));
    }
  }

  const messages = h("div", {}, h("span", { class: "spinner" }));
  const usage = h("div", {}, h("span", { class: "spinner" }));
  mount(main, h("h1", {}, t("today.title")),
    h("div", { class: "grid" },
      h("section", { class: "card", id: "live" }, h("h2", {}, t("today.live")), live, h("h2", {}, t("today.ended")), ended),
      h("section", { class: "card", id: "new-messages" }, h("h2", {}, t("today.newMessages")), messages),
      h("section", { class: "card", id: "lines" }, h("h2", {}, t("today.lines")), lines),
      h("section", { class: "card", id: "usage" }, h("h2", {}, t("today.usage")), usage)));
  follow();

  api("/admin/messages?status=new&limit=5").then((page) => {
    mount(messages, page.items.length ? h("ul", {}, page.items.map((m) => h("li", {},
      h("a", { href: `messages/${m.id}`, "data-link": true }, m.caller_name || number(m.number_masked)),
      " — ", m.reason || m.summary || ""))) : h("p", { class: "muted" }, t("today.noMessages")),
    h("a", { href: "messages", "data-link": true }, t("today.allMessages")));
  }).catch((err) => mount(messages, h("p", { role: "alert" }, say(err))));

  api("/billing/usage").then((u) => mount(usage, usageBars(u))).catch((err) => {
    if (err.code === "metering_off") mount(usage, h("p", { class: "muted" }, t("usage.off")));
    else banner(say(err));
  });
  return () => controller.abort();
}
