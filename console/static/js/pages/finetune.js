// Fine-tuning: choose the material (a Telegram export or consented calls), see its statistics,
// submit, follow the job's stage, steps and loss, compare the evaluation samples.
import { api } from "../api.js";
import { go, me } from "../app.js";
import { busy, field, h, mount, pill, when } from "../dom.js";
import { t } from "../i18n.js";

const ACTIVE = new Set(["PENDING", "RUNNING"]);

function stats(s) {
  if (!s) return null;
  return h("table", { id: "dataset-stats" }, h("tbody", {}, Object.entries(s).map(([k, v]) =>
    h("tr", {}, h("th", {}, t("stats." + k, {}, k)), h("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v))))));
}

export async function finetunePage(main, r) {
  if (r.arg) return jobPage(main, r.arg);
  const personas = await api("/admin/personas");
  const jobs = await api("/admin/finetune/jobs").catch((err) => ({ items: [], error: err }));
  const persona = h("select", { name: "persona" }, personas.items.map((p) => h("option", { value: p.name }, `${p.display_name} (${p.name})`)));
  const source = h("select", { name: "source" }, h("option", { value: "telegram" }, t("finetune.telegram")), h("option", { value: "calls" }, t("finetune.calls")));
  const file = h("input", { type: "file", name: "file", accept: ".json,application/json" });
  const owner = h("input", { name: "owner", placeholder: t("finetune.ownerHint") });
  const preview = h("div", { id: "preview" });
  const error = h("p", { class: "error-text" });
  const form = () => {
    const f = new FormData();
    f.set("source", source.value);
    if (source.value === "telegram" && file.files[0]) f.set("file", file.files[0]);
    if (owner.value.trim()) f.set("owner", owner.value.trim());
    return f;
  };
  const check = h("button", { type: "button", class: "ghost", onclick: (ev) => busy(ev.currentTarget, async () => {
    const out = await api("/admin/finetune/preview", { method: "POST", form: form() });
    mount(preview, h("h2", {}, t("finetune.stats")), stats(out.stats));
  }, error) }, t("finetune.preview"));
  const submit = h("button", { type: "button", onclick: (ev) => busy(ev.currentTarget, async () => {
    const f = form();
    f.set("persona", persona.value);
    const out = await api("/admin/finetune/jobs", { method: "POST", form: f });
    go(`finetune/${out.job_id}`);
  }, error) }, t("finetune.submit"));
  source.addEventListener("change", () => { file.disabled = source.value !== "telegram"; });

  mount(main, h("h1", {}, t("finetune.title")),
    me.can("admin") ? h("div", { class: "card" }, h("h2", {}, t("finetune.new")), field(t("finetune.persona"), persona),
      field(t("finetune.source"), source), field(t("finetune.file"), file), field(t("finetune.owner"), owner),
      h("div", { class: "row" }, check, submit), error, preview) : null,
    h("div", { class: "card" }, h("h2", {}, t("finetune.jobs")),
      jobs.error ? h("p", { role: "alert" }, t("finetune.jobsUnavailable")) : jobs.items.length
        ? h("table", { id: "jobs" }, h("tbody", {}, jobs.items.map((j) => h("tr", { class: "link", onclick: () => go(`finetune/${j.job_id}`) },
          h("td", {}, j.job_id), h("td", {}, j.persona), h("td", {}, pill(t("jobStatus." + j.status, {}, j.status))), h("td", {}, when(j.started_at))))))
        : h("p", { class: "muted" }, t("finetune.noJobs"))));
  return undefined;
}

function samples(evaluation) {
  if (!evaluation) return null;
  const kinds = Object.keys(evaluation);
  return h("div", { id: "evaluation" }, h("table", {}, h("tbody", {}, kinds.map((k) => h("tr", {}, h("th", {}, t("eval." + k, {}, k)),
    h("td", {}, `loss ${evaluation[k].loss}`))))),
  kinds.map((k) => h("details", {}, h("summary", {}, t("eval." + k, {}, k)),
    (evaluation[k].samples || []).map((s) => h("pre", {}, typeof s === "string" ? s : Object.entries(s).map(([a, b]) => `${a}: ${b}`).join("\n"))))));
}

async function jobPage(main, jobId) {
  const box = h("div", { class: "card", id: "job" });
  mount(main, h("p", {}, h("a", { href: "finetune", "data-link": true }, "← ", t("finetune.back"))), h("h1", {}, t("finetune.job"), " ", jobId), box);
  let timer = null;
  let stopped = false;
  const draw = async () => {
    let job;
    try {
      job = await api(`/admin/finetune/jobs/${encodeURIComponent(jobId)}`);
    } catch (err) {
      if (err.status === 404) { mount(box, h("p", {}, t("finetune.notFound"))); return; }
      throw err;
    }
    const p = job.progress;
    const done = !ACTIVE.has(job.status);
    mount(box, h("p", {}, pill(t("jobStatus." + job.status, {}, job.status), done ? "" : "warn"), " ", t("finetune.stage"), ": ",
      h("strong", {}, t("stage." + job.stage, {}, job.stage || "—"))),
    p ? [h("progress", { max: p.max_steps || 1, value: p.step || 0 }),
      h("p", { id: "loss" }, t("finetune.step", { step: p.step, max: p.max_steps }), ` · loss ${Number(p.loss).toFixed(4)}`)] : null,
    job.stats ? [h("h2", {}, t("finetune.stats")), stats(job.stats)] : null,
    job.result ? [h("h2", {}, t("finetune.result")),
      h("p", { id: "published" }, job.result.published ? t("finetune.published", { version: job.result.version }) : job.result.reason || job.result.error || t("finetune.notPublished")),
      job.persona ? h("a", { href: `personas/${job.persona}`, "data-link": true }, t("finetune.toPersona")) : null,
      samples(job.result.evaluation)] : null,
    !done && me.can("admin") ? h("button", { type: "button", class: "danger", onclick: (ev) => busy(ev.currentTarget, () =>
      api(`/admin/finetune/jobs/${jobId}/cancel`, { method: "POST" })) }, t("finetune.cancel")) : null);
    if (!done && !stopped) timer = setTimeout(() => draw().catch(() => {}), 3000);
  };
  await draw();
  return () => { stopped = true; clearTimeout(timer); };
}
