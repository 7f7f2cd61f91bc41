// Small DOM helpers. Text goes in as text nodes (never innerHTML): callers' words cannot become markup.
import { api, ApiError } from "./api.js";
import { lang, t, errorText } from "./i18n.js";

/** h("button", {onclick, class: "ghost"}, "text", child…) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function mount(parent, ...children) {
  parent.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return parent;
}

export function banner(message, kind = "error") {
  const el = document.getElementById("banner");
  if (!message) { el.hidden = true; el.textContent = ""; return; }
  el.className = kind === "info" ? "info" : "";
  el.textContent = message;
  el.hidden = false;
}

/** An error as the owner should read it, in the console's language. */
export function say(err) {
  if (err instanceof ApiError) return errorText(err);
  if (err && err.name === "AbortError") return "";
  return t("error.unexpected") + (err && err.message ? `: ${err.message}` : "");
}

/** Runs fn while the button shows it is working; errors land in `where` (an element) or the banner. */
export async function busy(button, fn, where) {
  const label = button.textContent;
  button.disabled = true;
  button.replaceChildren(h("span", { class: "spinner" }), " ", label);
  try {
    if (where) where.textContent = "";
    return await fn();
  } catch (err) {
    const text = say(err);
    if (where) { where.textContent = text; where.className = "error-text"; where.setAttribute("role", "alert"); }
    else banner(text);
    return undefined;
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

export function when(iso) {
  if (!iso) return "—";
  const d = typeof iso === "number" ? new Date(iso * 1000) : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(lang() === "ru" ? "ru-RU" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}

export function seconds(s) {
  if (s === null || s === undefined) return "—";
  const v = Math.round(Number(s));
  return v >= 60 ? `${Math.floor(v / 60)}:${String(v % 60).padStart(2, "0")}` : `${v} ${t("unit.s")}`;
}

/** A masked number as shown; the API's "unknown" (no caller id) in words. */
export function number(masked) {
  return masked && masked !== "unknown" ? masked : t("calls.unknownNumber");
}

export function pill(text, kind = "") { return h("span", { class: `pill ${kind}` }, text); }

export function field(labelText, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return [h("label", { for: id }, labelText), input];
}

/** Plays audio fetched with the session (an <audio> element cannot send the header itself). */
export function player(blob) {
  const url = URL.createObjectURL(blob);
  const audio = h("audio", { controls: true, src: url, preload: "auto" });
  audio.addEventListener("emptied", () => URL.revokeObjectURL(url));
  return audio;
}

/**
 * The API's answer for one thing, or null after the page says it is not there. Another tenant's
 * id is answered 404 like one that never existed, so the page cannot tell them apart either.
 */
export async function orNotFound(main, path, { title, text, back, backText, id }) {
  try {
    return await api(path);
  } catch (err) {
    if (err.status !== 404) throw err;
    mount(main, h("div", { class: "card", id }, h("h1", {}, title), text ? h("p", {}, text) : null,
      h("a", { href: back, "data-link": true }, backText)));
    return null;
  }
}
