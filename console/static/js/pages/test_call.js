// A test call from the browser's microphone over WS /v1/calls/stream (the protocol in the README):
// 16 kHz mono S16LE up, the persona's voice down, turns as text.
import { session } from "../api.js";
import { h, mount } from "../dom.js";
import { t } from "../i18n.js";

const RATE = 16000;

function toPcm16(float32) {
  const out = new Int16Array(float32.length);
  for (let i = 0; i < float32.length; i++) {
    const s = Math.max(-1, Math.min(1, float32[i]));
    out[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
  }
  return out.buffer;
}

export function testCall(persona) {
  const log = h("div", { id: "call-log" });
  const state = h("p", { class: "muted", role: "status" }, t("call.idle"));
  const start = h("button", { type: "button", id: "start-call" }, t("call.start"));
  const stop = h("button", { type: "button", class: "danger", hidden: true }, t("call.hangUp"));
  let ws = null;
  let ctx = null;
  let mic = null;
  let playhead = 0;

  function end(reason) {
    if (mic) mic.getTracks().forEach((tr) => tr.stop());
    if (ctx) ctx.close().catch(() => {});
    if (ws && ws.readyState <= 1) ws.close();
    ws = ctx = mic = null;
    start.hidden = false;
    stop.hidden = true;
    state.textContent = reason ? `${t("call.ended")}: ${t("reason." + reason, {}, reason)}` : t("call.ended");
  }

  start.addEventListener("click", async () => {
    start.hidden = true;
    state.textContent = t("call.connecting");
    mount(log);
    try {
      mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 } });
    } catch {
      start.hidden = false;
      state.textContent = t("call.noMic");
      return;
    }
    ctx = new AudioContext({ sampleRate: RATE });
    await ctx.resume().catch(() => {}); // created after an await: make sure it runs
    playhead = ctx.currentTime;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ api_key: session.token, persona: persona.name, sample_rate: RATE, language: persona.language });
    ws = new WebSocket(`${proto}//${location.host}/v1/calls/stream?${q}`);
    ws.binaryType = "arraybuffer";
    const source = ctx.createMediaStreamSource(mic);
    const tap = ctx.createScriptProcessor(2048, 1, 1); // 128 ms of 16 kHz: small enough for turn taking
    tap.onaudioprocess = (ev) => { if (ws && ws.readyState === 1) ws.send(toPcm16(ev.inputBuffer.getChannelData(0))); };
    source.connect(tap);
    tap.connect(ctx.destination);
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        const pcm = new Int16Array(ev.data);
        const buffer = ctx.createBuffer(1, pcm.length, RATE);
        const ch = buffer.getChannelData(0);
        for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 0x8000;
        const node = ctx.createBufferSource();
        node.buffer = buffer;
        node.connect(ctx.destination);
        playhead = Math.max(playhead, ctx.currentTime + 0.05);
        node.start(playhead);
        playhead += buffer.duration;
        return;
      }
      const msg = JSON.parse(ev.data);
      if (msg.type === "session.started") { state.textContent = t("call.live"); stop.hidden = false; }
      else if (msg.type === "turn") log.append(h("div", { class: "turn" }, h("b", {}, t("speaker." + msg.speaker, {}, msg.speaker)), " ", msg.text));
      else if (msg.type === "call.ended") end(msg.reason);
      else if (msg.type === "error") log.append(h("p", { class: "error-text" }, msg.message));
    };
    ws.onclose = (ev) => { if (ws) end(ev.reason || undefined); };
  });
  stop.addEventListener("click", () => { if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "hangup" })); else end(); });
  return h("div", {}, h("p", { class: "muted" }, t("call.hint")), h("div", { class: "row" }, start, stop), state, log);
}
