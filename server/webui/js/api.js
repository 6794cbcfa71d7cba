// api.js - the server's API as the page uses it: the API key, /health, /v1/models and streamed chat completions.
//
// Streams are read with fetch and parsed as server-sent events here (EventSource cannot POST or send a key), so a
// Stop is an AbortController: the connection closes and the server frees the slot at once.

const KEY = "llamac.apiKey";

// An HTTP error (status 0 for an error event inside a stream) with the server's message.
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code || null;
  }
}

export function apiKey() {
  try {
    return localStorage.getItem(KEY) || "";
  } catch {
    return "";
  }
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`;
  let code = null;
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) {
      message = body.error.message;
      code = body.error.code;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message, code);
}

// {ready: true} once the model is loaded; {ready: false, message} while it loads (503).
export async function health() {
  const res = await fetch("health", { cache: "no-store" });
  if (res.ok) return { ready: true };
  const err = await errorOf(res);
  return { ready: false, status: res.status, message: err.message };
}

// The models the server serves: [{id, ...}], as /v1/models lists them (throws ApiError; 401 without a valid key).
export async function listModels() {
  const res = await fetch("v1/models", { headers: headers(false), cache: "no-store" });
  if (!res.ok) throw await errorOf(res);
  const body = await res.json();
  return Array.isArray(body.data) ? body.data : [];
}

// Does a /v1/models entry take images? capabilities ["multimodal"] (llamac serve --mmproj; llama-server puts them in
// its Ollama-style models list) or architecture.input_modalities ["text", "image"].
export function takesImages(model) {
  const caps = Array.isArray(model && model.capabilities) ? model.capabilities : [];
  const inputs = model && model.architecture && model.architecture.input_modalities;
  return caps.includes("multimodal") || caps.includes("vision") || (Array.isArray(inputs) && inputs.includes("image"));
}

// Splits a stream of server-sent events into their data fields (events with several data lines are joined with
// "\n", as the SSE specification says).
async function* sseData(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        if (line === "") {
          if (data.length) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
      }
    }
    if (data.length) yield data.join("\n");
  } finally {
    reader.releaseLock();
  }
}

// Streams a chat completion: onDelta(delta) for each chunk's choices[0].delta ({content}, {reasoning_content},
// {role}); returns {finish_reason, usage, timings} (usage with stream_options.include_usage; timings in
// llama-server's shape when the server sends them). Throws ApiError for an HTTP error or an error event, and the
// fetch's AbortError when `signal` aborts.
export async function streamChat(body, { signal, onDelta }) {
  const res = await fetch("v1/chat/completions", {
    method: "POST",
    headers: headers(true),
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await errorOf(res);
  const out = { finish_reason: null, usage: null, timings: null };
  for await (const data of sseData(res.body)) {
    if (data === "[DONE]") return out;
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      continue;
    }
    if (chunk.error) throw new ApiError(0, chunk.error.message || "the server reported an error", chunk.error.code);
    if (chunk.usage) out.usage = chunk.usage;
    if (chunk.timings) out.timings = chunk.timings;
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : null;
    if (choice) {
      if (choice.delta) onDelta(choice.delta);
      if (choice.finish_reason) out.finish_reason = choice.finish_reason;
    }
  }
  return out;
}
