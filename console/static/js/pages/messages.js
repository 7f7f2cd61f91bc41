// Messages: the inbox (new, read, done), one message with its call and the caller's other messages.
import { api } from "../api.js";
import { go, me } from "../app.js";
import { busy, h, mount, number, orNotFound, pill, when } from "../dom.js";
import { t } from "../i18n.js";

const STATUSES = ["new", "read", "done"];

export async function messagesPage(main, r) {
  const status = r.query.get("status") || "";
  const page = await api(`/admin/messages?limit=50${status ? `&status=${status}` : ""}`);
  mount(main, h("h1", {}, t("messages.title")),
    h("div", { class: "card" },
      h("div", { class: "row" }, ["", ...STATUSES].map((s) => h("a", {
        href: s ? `messages?status=${s}` : "messages", "data-link": true, class: s === status ? "button" : "button ghost-link" },
      s ? t("messageStatus." + s) : t("messages.all")))),
      page.items.length ? h("div", { class: "table-wrap" }, h("table", { id: "messages" }, h("thead", {}, h("tr", {},
        h("th", {}, t("messages.when")), h("th", {}, t("messages.caller")), h("th", {}, t("messages.reason")),
        h("th", { class: "hide-sm" }, t("messages.urgency")), h("th", {}, t("messages.status")))),
      h("tbody", {}, page.items.map((m) => h("tr", { class: "link", "data-message": m.id, onclick: () => go(`messages/${m.id}`) },
        h("td", {}, when(m.created_at)), h("td", {}, m.caller_name || number(m.number_masked)),
        h("td", {}, m.reason || m.summary || ""), h("td", { class: "hide-sm" }, t("urgency." + m.urgency, {}, m.urgency || "")),
        h("td", {}, pill(t("messageStatus." + m.status), m.status === "new" ? "warn" : "")))))))
        : h("p", { class: "muted" }, t("messages.none"))));
}

export async function messagePage(main, messageId) {
  let m = await orNotFound(main, `/admin/messages/${encodeURIComponent(messageId)}`, {
    title: t("messages.notFound"), back: "messages", backText: t("messages.back"), id: "message-not-found" });
  if (!m) return;
  if (m.status === "new" && me.can("admin")) {
    m = await api(`/admin/messages/${m.id}`, { method: "PATCH", body: { status: "read" } }).catch(() => m);
  }
  const error = h("p", { class: "error-text" });
  const setStatus = (s) => h("button", { type: "button", class: "ghost", onclick: (ev) => busy(ev.currentTarget, async () => {
    await api(`/admin/messages/${m.id}`, { method: "PATCH", body: { status: s } });
    go(`messages/${m.id}`, { replace: true });
  }, error) }, t("messages.mark." + s));

  const rows = [
    [t("messages.caller"), m.caller_name || "—"],
    [t("messages.number"), m.number ? h("a", { href: `tel:${m.number}` }, m.number) : m.number_masked || "—"],
    [t("messages.reason"), m.reason || "—"], [t("messages.wants"), t("intent." + m.intent, {}, m.intent || "—")],
    [t("messages.callbackAt"), m.callback_at ? when(m.callback_at) : m.callback_text || "—"],
    [t("messages.urgency"), t("urgency." + m.urgency, {}, m.urgency || "—")], [t("messages.status"), t("messageStatus." + m.status)],
    [t("messages.when"), when(m.created_at)],
  ];
  const history = h("div", { id: "caller-history" });
  mount(main, h("p", {}, h("a", { href: "messages", "data-link": true }, "← ", t("messages.back"))),
    h("h1", {}, t("messages.from"), " ", m.caller_name || number(m.number_masked)),
    h("div", { class: "grid" },
      h("div", { class: "card", id: "message" }, h("p", { id: "summary" }, m.summary || ""),
        h("table", {}, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))))),
        h("p", {}, m.call_id ? h("a", { href: `calls/${m.call_id}`, "data-link": true, id: "open-call" }, t("messages.openCall")) : null),
        me.can("admin") ? h("div", { class: "row" }, STATUSES.filter((s) => s !== m.status).map(setStatus)) : null, error),
      h("div", { class: "card" }, h("h2", {}, t("messages.deliveries")),
        (m.deliveries || []).length ? h("ul", {}, m.deliveries.map((d) => h("li", {}, `${t("channel." + d.channel, {}, d.channel)}: `,
          pill(t("delivery." + d.status, {}, d.status), d.status === "sent" ? "ok" : d.status === "failed" ? "bad" : "warn"),
          d.last_error ? h("span", { class: "muted" }, ` ${d.last_error}`) : null))) : h("p", { class: "muted" }, t("messages.noDeliveries")),
        h("h2", {}, t("messages.history")), history)));

  // The caller's other messages: the same masked number, newest first.
  const all = await api("/admin/messages?limit=100").catch(() => ({ items: [] }));
  const same = all.items.filter((x) => x.id !== m.id && x.number_masked && x.number_masked !== "unknown" && x.number_masked === m.number_masked);
  mount(history, same.length ? h("ul", {}, same.map((x) => h("li", {}, h("a", { href: `messages/${x.id}`, "data-link": true },
    when(x.created_at)), " — ", x.reason || x.summary || ""))) : h("p", { class: "muted" }, t("messages.noHistory")));
}
