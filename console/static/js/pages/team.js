// Team: the account's users; the owner adds admins and viewers and removes them.
import { api } from "../api.js";
import { go, me } from "../app.js";
import { busy, field, h, mount, pill, when } from "../dom.js";
import { t } from "../i18n.js";

export async function teamPage(main) {
  const members = await api("/billing/team");
  const owner = me.can("owner");
  const error = h("p", { class: "error-text" });
  const email = h("input", { type: "email", name: "member-email", required: true });
  const password = h("input", { type: "password", name: "member-password", minlength: 10, required: true, autocomplete: "new-password" });
  const role = h("select", { name: "member-role" }, h("option", { value: "viewer" }, t("role.viewer")), h("option", { value: "admin" }, t("role.admin")));
  const add = h("button", { type: "submit" }, t("team.add"));
  mount(main, h("h1", {}, t("team.title")),
    h("div", { class: "card table-wrap" }, h("table", { id: "members" }, h("tbody", {}, members.items.map((m) => h("tr", { "data-member": m.email },
      h("td", {}, m.email), h("td", {}, t("role." + m.role)), h("td", { class: "hide-sm" }, when(m.created_at)),
      h("td", {}, m.disabled ? pill(t("team.removed"), "bad") : owner && m.role !== "owner" ? h("button", { type: "button", class: "danger",
        onclick: (ev) => busy(ev.currentTarget, async () => {
          await api(`/billing/team/${m.id}`, { method: "DELETE" });
          go("team", { replace: true });
        }, error) }, t("team.remove")) : null)))))),
    owner ? h("form", { class: "card", onsubmit: (ev) => {
      ev.preventDefault();
      busy(add, async () => {
        await api("/billing/team", { method: "POST", body: { email: email.value, password: password.value, role: role.value } });
        go("team", { replace: true });
      }, error);
    } }, h("h2", {}, t("team.new")), field(t("field.email"), email), field(t("field.password"), password), field(t("team.role"), role), add)
      : h("p", { class: "muted" }, t("team.ownerOnly")), error);
}
