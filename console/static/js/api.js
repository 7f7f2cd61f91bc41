// The console's only way to the back end: the public APIs with the signed-in user's session.
// Errors come back as ApiError with the API's code, so pages show them in words (i18n.js), never JSON.

const TOKEN = "secretary.session";

export class ApiError extends Error {
  constructor(status, code, message, param) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

export const session = {
  get token() { return localStorage.getItem(TOKEN); },
  set(token) { localStorage.setItem(TOKEN, token); },
  clear() { localStorage.removeItem(TOKEN); },
  /** The token's claims (not verified here: the server verifies every request). */
  claims() {
    const token = this.token;
    if (!token) return null;
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    } catch { return null; }
  },
  /** True while a token is held and its expiry is ahead. */
  valid() {
    const c = this.claims();
    return !!c && typeof c.exp === "number" && c.exp * 1000 > Date.now();
  },
};

let onExpired = () => {};
/** What to do when the server says the session is over (app.js: back to sign-in). */
export function whenExpired(handler) { onExpired = handler; }

function headers(extra = {}) {
  const h = { ...extra };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  return h;
}

async function failure(resp) {
  let body = null;
  try { body = await resp.json(); } catch { /* not JSON: a proxy's page */ }
  const e = body && body.error;
  return new ApiError(resp.status, e ? e.code || e.type : "http_" + resp.status, e ? e.message : resp.statusText, e && e.param);
}

/**
 * One API call. `body` is sent as JSON, `form` as multipart; `blob: true` returns the body as a Blob.
 * A 401 on a signed-in session means it expired or was revoked: the app returns to sign-in.
 */
export async function api(path, { method = "GET", body, form, blob = false, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  } else if (form !== undefined) {
    init.body = form;
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", String(err));
  }
  if (!resp.ok) {
    const err = await failure(resp);
    if (resp.status === 401 && session.token && !/\/auth\/(login|signup)$/.test(path)) {
      session.clear();
      onExpired(err);
    }
    throw err;
  }
  if (blob) return resp.blob();
  if (resp.status === 204) return null;
  const type = resp.headers.get("content-type") || "";
  return type.includes("json") ? resp.json() : resp.text();
}

/**
 * Server-sent events over fetch (EventSource cannot send the session header).
 * Calls onEvent(name, data) for each event; resolves when the server ends the stream.
 */
export async function stream(path, onEvent, signal) {
  const resp = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal });
  if (!resp.ok) {
    const err = await failure(resp);
    if (resp.status === 401 && session.token) { session.clear(); onExpired(err); }
    throw err;
  }
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) {
        let parsed = data.join("\n");
        try { parsed = JSON.parse(parsed); } catch { /* plain text */ }
        onEvent(name, parsed);
      }
    }
  }
}
