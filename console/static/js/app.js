// The console's shell: the signed-in user, the navigation, the router (history API under /console/).
import { api, session, whenExpired } from "./api.js";
import { banner, h, mount, say } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { billingPage } from "./pages/billing.js";
import { callPage, callsPage } from "./pages/calls.js";
import { finetunePage } from "./pages/finetune.js";
import { messagePage, messagesPage } from "./pages/messages.js";
import { personaPage, personasPage } from "./pages/personas.js";
import { privacyPage } from "./pages/privacy.js";
import { signinPage, signupPage } from "./pages/signin.js";
import { teamPage } from "./pages/team.js";
import { todayPage } from "./pages/today.js";

const BASE = "/console/";
const PUBLIC = new Set(["signin", "signup"]);
const NAV = [
  ["", "nav.today"], ["calls", "nav.calls"], ["messages", "nav.messages"], ["personas", "nav.personas"],
  ["finetune", "nav.finetune"], ["billing", "nav.billing"], ["privacy", "nav.privacy"], ["team", "nav.team"],
];

/** What the page may offer: the role decides, the API enforces. */
export const me = { user: null, can(level) {
  const role = this.user ? this.user.role : null;
  if (level === "owner") return role === "owner" || role === "operator";
  if (level === "admin") return ["owner", "admin", "operator"].includes(role);
  return !!role;
} };

let leave = null; // the current page's clean-up (closes its live stream)

export function go(path, { replace = false } = {}) {
  const url = BASE + path.replace(/^\/+/, "");
  if (replace) history.replaceState({}, "", url); else history.pushState({}, "", url);
  render();
}

function route() {
  const rest = decodeURIComponent(location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "");
  const parts = rest.split("/").filter(Boolean);
  return { name: parts[0] || "", arg: parts[1], query: new URLSearchParams(location.search) };
}

function signedOut(reason) {
  me.user = null;
  const { name } = route();
  if (!PUBLIC.has(name)) {
    const next = location.pathname.slice(BASE.length) + location.search;
    history.replaceState({}, "", BASE + "signin" + (next ? `?next=${encodeURIComponent(next)}` : ""));
  }
  render().then(() => { if (reason) banner(reason, "info"); });
}

whenExpired(() => signedOut(t("session.expired")));

function chrome() {
  document.documentElement.lang = lang();
  document.title = t("app.title");
  const langButton = document.getElementById("lang");
  langButton.textContent = lang() === "ru" ? "English" : "Русский";
  const out = document.getElementById("signout");
  out.textContent = t("nav.signout");
  out.hidden = !me.user;
  const who = document.getElementById("who");
  who.textContent = me.user
    ? `${me.user.business_name || t("role.operator")} · ${me.user.email || ""} · ${t("role." + me.user.role)}`
    : "";
  const nav = document.getElementById("nav");
  nav.hidden = !me.user;
  const current = route().name;
  mount(nav, NAV.map(([path, key]) =>
    h("a", { href: BASE + path, "data-link": true, class: current === path ? "active" : "" }, t(key))));
}

const PAGES = {
  "": todayPage, calls: (m, r) => (r.arg ? callPage(m, r.arg) : callsPage(m, r)),
  messages: (m, r) => (r.arg ? messagePage(m, r.arg) : messagesPage(m, r)),
  personas: (m, r) => (r.arg ? personaPage(m, r.arg) : personasPage(m, r)),
  finetune: finetunePage, billing: billingPage, privacy: privacyPage, team: teamPage,
  signin: signinPage, signup: signupPage,
};

export async function render() {
  if (leave) { try { leave(); } catch { /* already gone */ } leave = null; }
  banner("");
  const r = route();
  const main = document.getElementById("main");
  if (!PUBLIC.has(r.name)) {
    if (!session.valid()) {
      const had = !!session.token;
      session.clear();
      if (had) return signedOut(t("session.expired"));
      return signedOut();
    }
    if (!me.user) {
      try { me.user = await api("/billing/auth/me"); } catch (err) { if (session.token) banner(say(err)); return; }
    }
  } else if (session.valid() && r.name === "signin" && !r.query.get("next")) {
    return go("", { replace: true });
  }
  chrome();
  const page = PAGES[r.name];
  mount(main, h("p", { class: "muted" }, h("span", { class: "spinner" }), " ", t("loading")));
  if (!page) { mount(main, h("h1", {}, t("notfound.title")), h("p", {}, t("notfound.text"))); return; }
  try {
    leave = (await page(main, r)) || null;
  } catch (err) {
    mount(main, h("div", { class: "card" }, h("p", { role: "alert" }, say(err))));
  }
}

export function signIn(token, next) {
  session.set(token);
  me.user = null;
  go(next || "", { replace: true });
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[data-link]");
  if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
  ev.preventDefault();
  go(new URL(a.href).pathname.slice(BASE.length) + new URL(a.href).search);
});
window.addEventListener("popstate", render);
document.getElementById("lang").addEventListener("click", () => { setLang(lang() === "ru" ? "en" : "ru"); render(); });
document.getElementById("signout").addEventListener("click", () => {
  session.clear();
  signedOut(t("session.signedout"));
});
render();
