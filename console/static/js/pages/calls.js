// Calls: the history with filters and paging; one call's transcript, stage timings and recording.
import { api } from "../api.js";
import { go } from "../app.js";
import { busy, h, mount, number, orNotFound, pill, player, seconds, when } from "../dom.js";
import { t } from "../i18n.js";

const PAGE = 20;

export async function callsPage(main, r) {
  const direction = r.query.get("direction") || "";
  const status = r.query.get("status") || "";
  const offset = Number(r.query.get("offset") || 0);
  const params = new URLSearchParams({ limit: PAGE, offset });
  if (direction) params.set("direction", direction);
  if (status) params.set("status", status);
  const page = await api(`/admin/calls?${params}`);

  const filter = (name, value, options) => h("select", { name, onchange: (ev) => {
    const q = new URLSearchParams(location.search);
    if (ev.target.value) q.set(name, ev.target.value); else q.delete(name);
    q.delete("offset");
    go(`calls?${q}`);
  } }, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));

  const rows = page.items.map((c) => h("tr", { class: "link", "data-call": c.id, onclick: () => go(`calls/${c.id}`) },
    h("td", {}, when(c.started_at)), h("td", {}, number(c.number)),
    h("td", { class: "hide-sm" }, t("direction." + c.direction)),
    h("td", {}, pill(t("callStatus." + c.status, {}, c.status), c.status === "ended" ? "" : "ok")),
    h("td", {}, seconds(c.duration_s)), h("td", { class: "hide-sm" }, c.end_reason ? t("reason." + c.end_reason, {}, c.end_reason) : "")));

  const pager = h("div", { class: "row" },
    offset > 0 ? h("button", { class: "ghost", type: "button", onclick: () => {
      const q = new URLSearchParams(location.search); q.set("offset", Math.max(0, offset - PAGE)); go(`calls?${q}`);
    } }, t("pager.prev")) : null,
    h("span", { class: "muted" }, t("pager.range", { from: page.total ? offset + 1 : 0, to: offset + page.items.length, total: page.total })),
    offset + PAGE < page.total ? h("button", { class: "ghost", type: "button", onclick: () => {
      const q = new URLSearchParams(location.search); q.set("offset", offset + PAGE); go(`calls?${q}`);
    } }, t("pager.next")) : null);

  mount(main, h("h1", {}, t("calls.title")),
    h("div", { class: "card" }, h("div", { class: "row" },
      filter("direction", direction, [["", t("calls.anyDirection")], ["inbound", t("direction.inbound")], ["outbound", t("direction.outbound")]]),
      filter("status", status, [["", t("calls.anyStatus")], ["ringing", t("callStatus.ringing")], ["active", t("callStatus.active")],
        ["ended", t("callStatus.ended")]])),
    page.items.length ? h("div", { class: "table-wrap" }, h("table", { id: "calls" }, h("thead", {}, h("tr", {},
      h("th", {}, t("calls.when")), h("th", {}, t("calls.number")), h("th", { class: "hide-sm" }, t("calls.direction")),
      h("th", {}, t("calls.status")), h("th", {}, t("calls.duration")), h("th", { class: "hide-sm" }, t("calls.reason")))),
    h("tbody", {}, rows))) : h("p", { class: "muted" }, t("calls.none")), pager));
}

function timings(turn) {
  const ms = turn.timings_ms || {};
  const parts = Object.entries(ms).filter(([, v]) => typeof v === "number").map(([k, v]) => `${k} ${Math.round(v)} ms`);
  return parts.length ? h("div", { class: "muted" }, parts.join(" · ")) : null;
}

export async function callPage(main, callId) {
  const call = await orNotFound(main, `/admin/calls/${encodeURIComponent(callId)}`, {
    title: t("calls.notFound"), text: t("calls.notFoundText"), back: "calls", backText: t("calls.back"), id: "call-not-found" });
  if (!call) return undefined;
  const audio = h("div", { id: "recording" });
  const error = h("p", { class: "error-text" });
  const play = call.recording_ref ? h("button", { type: "button", onclick: (ev) => busy(ev.currentTarget, async () => {
    const blob = await api(`/admin/calls/${call.id}/recording`, { blob: true });
    const el = player(blob);
    mount(audio, el);
    await el.play().catch(() => {}); // autoplay may be refused; the controls are there
  }, error) }, t("calls.play")) : h("p", { class: "muted" }, t("calls.noRecording"));

  mount(main, h("p", {}, h("a", { href: "calls", "data-link": true }, "← ", t("calls.back"))),
    h("h1", {}, t("calls.call"), " ", number(call.number)),
    call.status === "ended" ? null : h("p", { class: "muted", role: "status" }, h("span", { class: "spinner" }), " ", t("calls.inProgress")),
    h("div", { class: "grid" },
      h("div", { class: "card" }, h("table", {}, h("tbody", {},
        [[t("calls.when"), when(call.started_at)], [t("calls.direction"), t("direction." + call.direction)],
          [t("calls.status"), t("callStatus." + call.status, {}, call.status)], [t("calls.duration"), seconds(call.duration_s)],
          [t("calls.reason"), call.end_reason ? t("reason." + call.end_reason, {}, call.end_reason) : "—"],
          [t("calls.persona"), call.persona || "—"], [t("calls.line"), call.line || "—"],
          [t("calls.screening"), call.screening ? JSON.stringify(call.screening) : "—"]]
          .map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))))),
      h("div", { class: "card" }, h("h2", {}, t("calls.recording")), play, audio, error)),
    h("div", { class: "card", id: "transcript" }, h("h2", {}, t("calls.transcript")),
      (call.transcript || []).length ? call.transcript.map((turn) => h("div", { class: "turn", "data-speaker": turn.speaker },
        h("b", {}, t("speaker." + turn.speaker, {}, turn.speaker)), " ", turn.text,
        turn.interrupted ? h("span", { class: "muted" }, ` (${t("calls.interrupted")})`) : null, timings(turn)))
        : h("p", { class: "muted" }, t("calls.noTranscript"))));
  if (call.status === "ended") return undefined;
  // A call in progress: its record fills in when it ends, so the page looks again every few seconds.
  const timer = setTimeout(() => go(`calls/${call.id}`, { replace: true }), 3000);
  return () => clearTimeout(timer);
}


