// Billing: the plan and its checkout (Stripe or YooKassa), invoices, usage over the month, API keys.
import { api } from "../api.js";
import { go, me } from "../app.js";
import { busy, field, h, mount, pill, when } from "../dom.js";
import { t } from "../i18n.js";
import { dailyChart, usageBars } from "./usage.js";

function money(cents, currency) {
  if (cents === null || cents === undefined) return "—";
  return `${(cents / 100).toFixed(2)} ${(currency || "").toUpperCase()}`;
}

export async function billingPage(main, r) {
  const outcome = r.query.get("checkout");
  const [plans, sub, invoices] = await Promise.all([
    api("/billing/plans"), api("/billing/subscription").catch(() => null), api("/billing/invoices").catch(() => ({ items: [] })),
  ]);
  const error = h("p", { class: "error-text", id: "billing-error" });
  const checkout = (provider, plan) => h("button", { type: "button", "data-checkout": `${provider}:${plan}`, onclick: (ev) => busy(ev.currentTarget, async () => {
    const attempt = `${plan}-${provider}-${Date.now().toString(36)}`;
    const out = await api(`/billing/checkout/${provider}`, { method: "POST", body: { plan, attempt_key: attempt } });
    window.location.assign(out.url); // the provider's payment page; it returns to /console/billing
  }, error) }, t("billing.payWith." + provider));

  const limit = (v) => (v === null || v === undefined ? t("usage.unlimited") : String(v));
  const planCards = plans.items.map((p) => h("div", { class: "card", "data-plan": p.id },
    h("h2", {}, p.title || p.id), h("p", {}, h("strong", {}, `${p.price_rub} ₽`), " / ", t("billing.month")),
    h("ul", {}, h("li", {}, `${t("plan.minutes")}: ${limit(p.minutes)}`), h("li", {}, `${t("plan.voices")}: ${limit(p.voices)}`),
      h("li", {}, `${t("plan.finetunes")}: ${limit(p.finetunes_per_month)}`)),
    sub && sub.plan === p.id ? pill(t("billing.current"), "ok") : null,
    me.can("admin") ? h("div", { class: "row" }, checkout("stripe", p.id), checkout("yookassa", p.id)) : null));

  const keys = h("div", { id: "api-keys" });
  const charts = h("div", { id: "usage-charts", class: "grid" });
  const usageNow = h("div");
  mount(main, h("h1", {}, t("billing.title")),
    outcome ? h("div", { class: "card", role: "status" }, t("billing.returned." + outcome, {}, outcome)) : null,
    h("div", { class: "card", id: "subscription" }, h("h2", {}, t("billing.subscription")),
      sub ? h("p", {}, h("strong", {}, sub.plan || "—"), " ", pill(t("subStatus." + sub.status, {}, sub.status || "—")),
        sub.current_period_end ? [" ", t("billing.until"), " ", when(sub.current_period_end)] : null) : h("p", { class: "muted" }, t("billing.noSubscription")),
      sub && sub.cancel_at_period_end ? h("p", { id: "cancelled" }, t("billing.cancelledNote", { date: when(sub.current_period_end) })) : null,
      sub && !sub.cancel_at_period_end && ["active", "past_due"].includes(sub.status) && sub.provider !== "operator" && me.can("admin")
        ? h("button", { type: "button", class: "ghost", id: "cancel-plan", onclick: (ev) => busy(ev.currentTarget, async () => {
          if (!window.confirm(t("billing.confirmCancel", { date: when(sub.current_period_end) }))) return;
          await api("/billing/subscription/cancel", { method: "POST" });
          go("billing", { replace: true });
        }, error) }, t("billing.cancel")) : null,
      usageNow),
    h("h2", {}, t("billing.plans")), h("div", { class: "grid", id: "plans" }, planCards), error,
    h("div", { class: "card" }, h("h2", {}, t("billing.invoices")), invoices.items.length ? h("table", { id: "invoices" }, h("tbody", {},
      invoices.items.map((i) => h("tr", {}, h("td", {}, i.provider), h("td", {}, money(i.amount_minor, i.currency)),
        h("td", {}, pill(t("invoiceStatus." + i.status, {}, i.status), i.status === "paid" ? "ok" : i.status === "failed" ? "bad" : "warn")),
        h("td", {}, i.url ? h("a", { href: i.url, target: "_blank", rel: "noopener" }, t("billing.receipt")) : "")))))
      : h("p", { class: "muted" }, t("billing.noInvoices"))),
    h("h2", {}, t("billing.usageMonth")), charts,
    me.can("admin") ? h("div", { class: "card" }, h("h2", {}, t("keys.title")), keys) : null);

  api("/billing/usage").then((u) => mount(usageNow, usageBars(u, { plan: false }))).catch(() => {});
  api("/admin/usage/stats").then((s) => mount(charts, Object.entries(s.daily).map(([m, days]) => dailyChart(m, days))))
    .catch((err) => mount(charts, h("p", { class: "muted" }, err.code === "metering_off" ? t("usage.off") : t("usage.none"))));
  if (me.can("admin")) drawKeys(keys);
}

async function drawKeys(box) {
  const list = await api("/billing/api-keys");
  const name = h("input", { name: "key-name", maxlength: 100, required: true, placeholder: t("keys.namePlaceholder") });
  const shown = h("div", { id: "new-key" });
  const error = h("p", { class: "error-text" });
  const create = h("button", { type: "submit" }, t("keys.create"));
  mount(box,
    list.items.length ? h("table", { id: "keys" }, h("tbody", {}, list.items.map((k) => h("tr", { "data-key": k.id },
      h("td", {}, k.name), h("td", {}, h("code", {}, `sk_${k.prefix}_…`)), h("td", { class: "hide-sm" }, when(k.created_at)),
      h("td", {}, k.revoked ? pill(t("keys.revoked"), "bad") : h("button", { type: "button", class: "danger", onclick: (ev) => busy(ev.currentTarget, async () => {
        if (!window.confirm(t("keys.confirmRevoke", { name: k.name }))) return;
        await api(`/billing/api-keys/${k.id}`, { method: "DELETE" });
        await drawKeys(box);
      }, error) }, t("keys.revoke")))))))
      : h("p", { class: "muted" }, t("keys.none")),
    h("form", { onsubmit: (ev) => {
      ev.preventDefault();
      busy(create, async () => {
        const out = await api("/billing/api-keys", { method: "POST", body: { name: name.value } });
        await drawKeys(box);
        mount(box.querySelector("#new-key"), h("p", {}, t("keys.showOnce")), h("div", { class: "secret", id: "secret-key" }, out.key));
      }, error);
    } }, field(t("keys.name"), name), create), shown, error);
}

