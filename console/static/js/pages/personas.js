// Personas: the list, a new one from a template, and one persona's editor with its voice preview,
// test chat, test call from the microphone and adapter versions.
import { api } from "../api.js";
import { go, me } from "../app.js";
import { busy, field, h, mount, orNotFound, pill, player, when } from "../dom.js";
import { t } from "../i18n.js";
import { testCall } from "./test_call.js";

const TEMPLATES = {
  en: { voice: "joe", display_name: "Reception", system_prompt: "You are the friendly receptionist of a small business. Answer briefly, take a message when the owner is needed, and never invent facts.",
    lines: { greeting: "Hello, you have reached our office. How can I help?", farewell: "Thank you for calling. Goodbye!",
      silence_prompt: "Are you still there?", hangup_line: "I will end the call now. Goodbye.",
      apology: "Sorry, I am having trouble right now. Please call back later." } },
  ru: { voice: "nikolay", display_name: "Приёмная", system_prompt: "Вы вежливый секретарь небольшой компании. Отвечайте коротко, если нужен владелец — примите сообщение, ничего не выдумывайте.",
    lines: { greeting: "Здравствуйте, вы позвонили в наш офис. Чем могу помочь?", farewell: "Спасибо за звонок. До свидания!",
      silence_prompt: "Вы ещё на линии?", hangup_line: "Я завершаю звонок. До свидания.",
      apology: "Извините, сейчас у меня трудности. Пожалуйста, перезвоните позже." } },
};
const LINES = ["greeting", "farewell", "silence_prompt", "hangup_line", "apology", "recording_notice", "limit_notice", "shutdown_line"];

export async function personasPage(main) {
  const list = await api("/admin/personas");
  const name = h("input", { name: "name", pattern: "[a-z][a-z0-9_-]{1,31}", required: true, placeholder: "reception" });
  const language = h("select", { name: "language" }, h("option", { value: "ru" }, "Русский"), h("option", { value: "en" }, "English"));
  const error = h("p", { class: "error-text" });
  const create = h("button", { type: "submit" }, t("personas.create"));
  mount(main, h("h1", {}, t("personas.title")),
    h("div", { class: "card" }, list.items.length ? h("table", { id: "personas" }, h("tbody", {}, list.items.map((p) => h("tr", {
      class: "link", "data-persona": p.name, onclick: () => go(`personas/${p.name}`) },
    h("td", {}, h("strong", {}, p.display_name), " ", h("span", { class: "muted" }, p.name)), h("td", {}, p.language),
    h("td", {}, pill(t("personaStatus." + p.status, {}, p.status), p.status === "available" ? "ok" : "bad"))))))
      : h("p", { class: "muted" }, t("personas.none"))),
    me.can("admin") ? h("form", { class: "card", id: "new-persona", onsubmit: (ev) => {
      ev.preventDefault();
      busy(create, async () => {
        const tpl = TEMPLATES[language.value];
        await api("/admin/personas", { method: "POST", body: { name: name.value, language: language.value, ...tpl } });
        go(`personas/${name.value}`);
      }, error);
    } }, h("h2", {}, t("personas.new")), field(t("personas.name"), name), h("p", { class: "muted" }, t("personas.nameHint")),
    field(t("personas.language"), language), error, create) : null);
}

function linesEditor(persona) {
  const inputs = {};
  const rows = LINES.map((key) => {
    inputs[key] = h("textarea", { name: `line-${key}`, rows: 2, maxlength: key === "greeting" ? 500 : 300 }, persona.lines[key] || "");
    return field(t("line." + key), inputs[key]);
  });
  return { inputs, rows };
}

function faqEditor(persona) {
  const box = h("div", { id: "faq" });
  const add = (entry = { question: "", answer: "" }) => {
    const q = h("input", { value: entry.question, placeholder: t("faq.question"), "data-faq": "question" });
    const a = h("textarea", { rows: 2, placeholder: t("faq.answer"), "data-faq": "answer" }, entry.answer);
    const row = h("div", { class: "card", dataset: { extra: JSON.stringify({ triggers: entry.triggers || [], examples: entry.examples || [] }) } },
      q, a, h("button", { type: "button", class: "ghost", onclick: () => row.remove() }, t("faq.remove")));
    box.append(row);
  };
  (persona.faq || []).forEach(add);
  const read = () => [...box.children].map((row) => ({
    question: row.querySelector("[data-faq=question]").value.trim(),
    answer: row.querySelector("[data-faq=answer]").value.trim(),
    ...JSON.parse(row.dataset.extra || "{}"),
  })).filter((e) => e.question || e.answer);
  return { box, add, read };
}

export async function personaPage(main, name) {
  let persona = await orNotFound(main, `/admin/personas/${encodeURIComponent(name)}`, {
    title: t("personas.notFound"), back: "personas", backText: t("personas.back"), id: "persona-not-found" });
  if (!persona) return;
  const editable = me.can("admin");
  const display = h("input", { name: "display_name", value: persona.display_name, maxlength: 64 });
  const voice = h("input", { name: "voice", value: persona.voice, maxlength: 64 });
  const prompt = h("textarea", { name: "system_prompt", rows: 6 }, persona.system_prompt);
  const lines = linesEditor(persona);
  const faq = faqEditor(persona);
  const saved = h("p", { class: "muted", id: "saved", role: "status" });
  const error = h("p", { class: "error-text" });
  const save = h("button", { type: "submit", id: "save-persona" }, t("personas.save"));
  const form = h("form", { class: "card", id: "persona-form", onsubmit: (ev) => {
    ev.preventDefault();
    busy(save, async () => {
      const body = { ...persona, display_name: display.value, voice: voice.value, system_prompt: prompt.value, faq: faq.read(),
        lines: { ...persona.lines, ...Object.fromEntries(LINES.map((k) => [k, lines.inputs[k].value])) } };
      delete body.status; delete body.status_reason;
      persona = await api(`/admin/personas/${persona.name}`, { method: "PUT", body });
      saved.textContent = t("personas.saved");
    }, error);
  } },
  h("h2", {}, t("personas.edit")), field(t("personas.displayName"), display), field(t("personas.voice"), voice),
  field(t("personas.prompt"), prompt), h("h2", {}, t("personas.lines")), lines.rows,
  h("h2", {}, t("personas.faq")), faq.box, h("button", { type: "button", class: "ghost", onclick: () => faq.add() }, t("faq.add")),
  h("hr"), editable ? h("div", { class: "row" }, save) : h("p", { class: "muted" }, t("role.readOnly")), saved, error);
  if (!editable) form.querySelectorAll("input, textarea, button").forEach((el) => { el.disabled = true; });

  // The voice, spoken by the speech endpoint.
  const previewOut = h("div", { id: "voice-preview" });
  const previewError = h("p", { class: "error-text" });
  const preview = h("button", { type: "button", id: "preview-voice", onclick: (ev) => busy(ev.currentTarget, async () => {
    const blob = await api("/v1/audio/speech", { method: "POST", blob: true,
      body: { model: "tts-1", voice: voice.value, input: lines.inputs.greeting.value || persona.lines.greeting, response_format: "wav" } });
    const el = player(blob);
    mount(previewOut, el);
    await el.play().catch(() => {});
  }, previewError) }, t("personas.preview"));

  // A test chat with the persona (the chat endpoint, with the persona as the model).
  const chatLog = h("div", { id: "chat-log" });
  const chatInput = h("input", { name: "chat", placeholder: t("personas.chatPlaceholder") });
  const chatError = h("p", { class: "error-text" });
  const history = [];
  const send = h("button", { type: "submit" }, t("personas.send"));
  const chat = h("form", { onsubmit: (ev) => {
    ev.preventDefault();
    const text = chatInput.value.trim();
    if (!text) return;
    busy(send, async () => {
      history.push({ role: "user", content: text });
      chatLog.append(h("div", { class: "turn" }, h("b", {}, t("speaker.caller")), " ", text));
      chatInput.value = "";
      const out = await api("/v1/chat/completions", { method: "POST", body: { model: persona.name, messages: history } });
      const reply = out.choices[0].message.content;
      history.push({ role: "assistant", content: reply });
      chatLog.append(h("div", { class: "turn", "data-speaker": "assistant" }, h("b", {}, t("speaker.assistant")), " ", reply));
    }, chatError);
  } }, chatLog, h("div", { class: "row" }, chatInput, send), chatError);

  const versions = h("div", { id: "versions" }, h("span", { class: "spinner" }));
  mount(main, h("p", {}, h("a", { href: "personas", "data-link": true }, "← ", t("personas.back"))),
    h("h1", {}, persona.display_name, " ", h("span", { class: "muted" }, persona.name)),
    h("div", { class: "grid" }, form,
      h("div", {},
        h("div", { class: "card" }, h("h2", {}, t("personas.voicePreview")), preview, previewOut, previewError),
        editable ? h("div", { class: "card" }, h("h2", {}, t("personas.testChat")), chat) : null,
        editable ? h("div", { class: "card" }, h("h2", {}, t("personas.testCall")), testCall(persona)) : null,
        h("div", { class: "card" }, h("h2", {}, t("personas.adapters")), versions))));
  loadVersions(persona, versions);
}

async function loadVersions(persona, box) {
  const error = h("p", { class: "error-text" });
  try {
    const out = await api(`/admin/personas/${persona.name}/adapter/versions`);
    const current = persona.adapter ? persona.adapter.version : null;
    mount(box, h("p", {}, t("personas.current"), ": ", h("strong", {}, current ? `v${current}` : t("personas.baseModel"))),
      out.items.length ? h("table", {}, h("tbody", {}, out.items.map((v) => h("tr", {},
        h("td", {}, `v${v.version}`), h("td", {}, when(v.created_at)), h("td", {}, pill(t("versionStatus." + v.status, {}, v.status))),
        h("td", {}, v.evaluation && v.evaluation.new ? `loss ${v.evaluation.new.loss}` : ""),
        h("td", {}, me.can("admin") && v.version !== current && v.adapter && v.adapter.path ? h("button", { type: "button", class: "ghost", onclick: (ev) =>
          busy(ev.currentTarget, async () => {
            await api(`/admin/personas/${persona.name}/adapter/versions/${v.version}/publish`, { method: "POST" });
            go(`personas/${persona.name}`, { replace: true });
          }, error) }, t("personas.publish")) : null))))) : h("p", { class: "muted" }, t("personas.noVersions")),
      me.can("admin") && current ? h("button", { type: "button", class: "ghost", onclick: (ev) => busy(ev.currentTarget, async () => {
        await api(`/admin/personas/${persona.name}/adapter/rollback`, { method: "POST" });
        go(`personas/${persona.name}`, { replace: true });
      }, error) }, t("personas.rollback")) : null, error);
  } catch (err) {
    mount(box, h("p", { class: "muted" }, t("personas.noVersions")));
  }
}
