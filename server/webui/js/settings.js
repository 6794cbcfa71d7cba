// settings.js - what the user sets once per browser (localStorage): the system prompt, the sampling fields of the
// chat completions API, extra request fields as JSON, the theme and the model. One table, FIELDS, makes both the
// settings form and the request: an empty field is left out, so the server's default (its command line) applies.

const KEY = "llamac.settings";

// type: "text" (multi-line), "number" (float), "int", "list" (one string a line), "json" (an object merged into the
// request). min/max are the API's own limits, so the form refuses what the server would refuse. An empty number
// shows "server default": the server's command line decides it, not this page.
export const FIELDS = [
  { key: "system", label: "System prompt", type: "text", placeholder: "none" },
  { key: "temperature", label: "Temperature", type: "number", min: 0, max: 100, step: 0.05 },
  { key: "top_p", label: "Top-p", type: "number", min: 0, max: 1, step: 0.01 },
  { key: "top_k", label: "Top-k", type: "int", min: 0, max: 2147483647 },
  { key: "min_p", label: "Min-p", type: "number", min: 0, max: 1, step: 0.01 },
  { key: "max_tokens", label: "Max tokens", type: "int", min: 1, max: 2147483647 },
  { key: "presence_penalty", label: "Presence penalty", type: "number", min: -2, max: 2, step: 0.1 },
  { key: "frequency_penalty", label: "Frequency penalty", type: "number", min: -2, max: 2, step: 0.1 },
  { key: "repeat_penalty", label: "Repeat penalty", type: "number", min: 0, max: 100, step: 0.05 },
  { key: "seed", label: "Seed", type: "int", min: -9007199254740991, max: 9007199254740991 },
  { key: "stop", label: "Stop strings (one a line)", type: "list" },
  {
    key: "custom",
    label: "Extra request fields (JSON object)",
    type: "json",
    placeholder: '{"logit_bias": {"15043": -100}, "grammar": "root ::= ..."}',
  },
];

export const THEMES = ["auto", "light", "dark"];

export function defaults() {
  return { theme: "auto", model: "" };
}

export function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "{}");
    return { ...defaults(), ...(saved && typeof saved === "object" ? saved : {}) };
  } catch {
    return defaults();
  }
}

export function saveSettings(settings) {
  localStorage.setItem(KEY, JSON.stringify(settings));
}

// The value a field's input shows.
export function fieldText(field, value) {
  if (value === undefined || value === null) return "";
  if (field.type === "list") return value.join("\n");
  if (field.type === "json") return JSON.stringify(value, null, 2);
  return String(value);
}

// Parses a field's input: {value} (undefined for empty) or {error}.
export function parseField(field, text) {
  const t = field.type === "text" ? text : text.trim();
  if (t === "") return { value: undefined };
  switch (field.type) {
    case "text":
      return { value: t };
    case "list":
      return { value: t.split("\n").filter((s) => s !== "") };
    case "json": {
      let v;
      try {
        v = JSON.parse(t);
      } catch (e) {
        return { error: `${field.label}: not valid JSON (${e.message})` };
      }
      if (!v || typeof v !== "object" || Array.isArray(v)) return { error: `${field.label}: must be a JSON object` };
      return { value: v };
    }
    default: {
      const n = Number(t);
      if (!Number.isFinite(n) || (field.type === "int" && !Number.isInteger(n))) {
        return { error: `${field.label}: expected ${field.type === "int" ? "a whole number" : "a number"}` };
      }
      if (n < field.min || n > field.max) return { error: `${field.label}: must be from ${field.min} to ${field.max}` };
      return { value: n };
    }
  }
}

// The chat completions request for a conversation's messages (OpenAI shape) with these settings.
export function buildRequest(settings, messages, model) {
  const req = {};
  if (model) req.model = model;
  for (const f of FIELDS) {
    const v = settings[f.key];
    if (v === undefined || f.key === "system" || f.key === "custom") continue;
    req[f.key] = v;
  }
  if (settings.custom) Object.assign(req, settings.custom); // extra fields win over the form's
  req.messages = settings.system ? [{ role: "system", content: settings.system }, ...messages] : messages;
  req.stream = true;
  req.stream_options = { include_usage: true };
  return req;
}
