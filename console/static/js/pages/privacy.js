// Privacy: the account's own consent, a caller's consents, erasing a caller, retention, the audit log.
import { api } from "../api.js";
import { me } from "../app.js";
import { busy, field, h, mount, pill, when } from "../dom.js";
import { t } from "../i18n.js";

export async function privacyPage(main) {
  const admin = me.can("admin");
  const mine = (me.user.consents || []).map((c) => h("li", {}, t("privacy.accepted", { version: c.version }), " ", when(c.at)));
  const retention = admin ? await api("/billing/privacy/retention").catch(() => null) : null;
  const audit = admin ? await api("/billing/privacy/audit").catch(() => ({ items: [] })) : { items: [] };

  const days = h("input", { type: "number", name: "retention", min: 1, max: 3650, value: retention ? retention.days : 90 });
  const retentionOut = h("p", { class: "error-text" });
  const saveRetention = h("button", { type: "button", onclick: (ev) => busy(ev.currentTarget, async () => {
    const out = await api("/billing/privacy/retention", { method: "PUT", body: { days: Number(days.value) } });
    retentionOut.className = "muted";
    retentionOut.textContent = t("privacy.retentionSaved", { days: out.days });
  }, retentionOut) }, t("privacy.save"));

  const number = h("input", { name: "number", type: "tel", placeholder: "+7 916 123-45-67" });
  const consentsOut = h("div", { id: "consents" });
  const lookupError = h("p", { class: "error-text" });
  const lookup = h("button", { type: "button", class: "ghost", onclick: (ev) => busy(ev.currentTarget, async () => {
    const out = await api(`/billing/privacy/consents?number=${encodeURIComponent(number.value)}`);
    mount(consentsOut, out.items.length ? h("ul", {}, out.items.map((c) => h("li", {}, t("consent." + c.kind, {}, c.kind), ": ",
      pill(c.granted ? t("privacy.granted") : t("privacy.withdrawn"), c.granted ? "ok" : "bad"), " ", when(c.at))))
      : h("p", { class: "muted" }, t("privacy.noConsents")));
  }, lookupError) }, t("privacy.lookup"));
  const erase = h("button", { type: "button", class: "danger", onclick: (ev) => busy(ev.currentTarget, async () => {
    if (!window.confirm(t("privacy.confirmErase", { number: number.value }))) return;
    const out = await api("/billing/privacy/erasure", { method: "POST", body: { number: number.value } });
    mount(consentsOut, h("p", { role: "status" }, t("privacy.erased"), " ",
      Object.entries(out.erased).map(([k, v]) => `${t("erased." + k, {}, k)}: ${v}`).join(", ")));
  }, lookupError) }, t("privacy.erase"));

  mount(main, h("h1", {}, t("privacy.title")),
    h("div", { class: "card" }, h("h2", {}, t("privacy.yourConsent")), mine.length ? h("ul", {}, mine) : h("p", { class: "muted" }, "—"),
      h("a", { href: `/billing/privacy-policy?language=${document.documentElement.lang}`, target: "_blank" }, t("privacy.policy"))),
    admin ? h("div", { class: "card" }, h("h2", {}, t("privacy.caller")), field(t("privacy.number"), number),
      h("div", { class: "row" }, lookup, erase), lookupError, consentsOut) : null,
    admin ? h("div", { class: "card" }, h("h2", {}, t("privacy.retention")), h("p", { class: "muted" }, t("privacy.retentionHint")),
      field(t("privacy.days"), days), saveRetention, retentionOut) : null,
    admin ? h("div", { class: "card" }, h("h2", {}, t("privacy.audit")), audit.items.length ? h("table", { id: "audit" }, h("tbody", {},
      audit.items.map((a) => h("tr", {}, h("td", {}, when(a.at)), h("td", {}, a.action), h("td", {}, a.actor || ""),
        h("td", { class: "hide-sm" }, a.details ? JSON.stringify(a.details) : "")))))
      : h("p", { class: "muted" }, t("privacy.noAudit"))) : h("p", { class: "muted" }, t("role.readOnly")));
}
