// Sign-in and sign-up (public pages). Sign-up shows the privacy policy and sends its acceptance.
import { api } from "../api.js";
import { signIn } from "../app.js";
import { busy, field, h, mount } from "../dom.js";
import { lang, t } from "../i18n.js";

export async function signinPage(main, r) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error-text" });
  const submit = h("button", { type: "submit" }, t("signin.submit"));
  const form = h("form", { class: "card", onsubmit: (ev) => {
    ev.preventDefault();
    busy(submit, async () => {
      const out = await api("/billing/auth/login", { method: "POST", body: { email: email.value, password: password.value } });
      signIn(out.token, r.query.get("next"));
    }, error);
  } },
  h("h1", {}, t("signin.title")), field(t("field.email"), email), field(t("field.password"), password),
  error, h("div", { class: "row" }, submit, h("a", { href: "signup", "data-link": true }, t("signin.toSignup"))));
  mount(main, form);
}

export async function signupPage(main) {
  const policy = await api(`/billing/privacy-policy?language=${lang()}`).catch(() => api("/billing/privacy-policy?language=en"));
  const business = h("input", { name: "business", required: true, maxlength: 200 });
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", minlength: 10, required: true });
  const accept = h("input", { type: "checkbox", name: "accept" });
  const error = h("p", { class: "error-text" });
  const submit = h("button", { type: "submit" }, t("signup.submit"));
  const form = h("form", { class: "card", onsubmit: (ev) => {
    ev.preventDefault();
    busy(submit, async () => {
      const out = await api("/billing/auth/signup", { method: "POST", body: {
        business_name: business.value, email: email.value, password: password.value,
        accept_privacy_policy: accept.checked, privacy_policy_version: String(policy.version),
      } });
      signIn(out.token, "");
    }, error);
  } },
  h("h1", {}, t("signup.title")),
  field(t("field.business"), business), field(t("field.email"), email),
  field(t("field.password"), password), h("p", { class: "muted" }, t("signup.passwordHint")),
  h("details", {}, h("summary", {}, t("signup.readPolicy", { version: policy.version })), h("pre", {}, policy.text)),
  h("label", { class: "inline" }, accept, t("signup.accept")),
  error, h("div", { class: "row" }, submit, h("a", { href: "signin", "data-link": true }, t("signup.toSignin"))));
  mount(main, form);
}
