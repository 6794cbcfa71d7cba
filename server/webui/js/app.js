// app.js - the chat page: the conversations in a sidebar, the messages of the open one, the composer, the settings
// and API key dialogs, and the connection to the server.
//
// State lives in plain objects (a conversation record as store.js keeps it); the DOM is rebuilt from them when a
// conversation opens, and only the answer being streamed is updated in place, at most once per animation frame.
// Every piece of text from the model or the user reaches the page as text or through markdown.js's sanitiser.

import { apiKey, setApiKey, health, listModels, takesImages, streamChat } from "./api.js";
import * as store from "./store.js";
import { FIELDS, THEMES, loadSettings, saveSettings, fieldText, parseField, buildRequest } from "./settings.js";
import { renderMarkdown, copyText } from "./markdown.js";

const $ = (id) => document.getElementById(id);
const ui = {
  app: $("app"),
  sidebar: $("sidebar"),
  backdrop: $("backdrop"),
  menu: $("menu"),
  conversations: $("conversations"),
  newChat: $("new-chat"),
  exportButton: $("export"),
  importButton: $("import"),
  importFile: $("import-file"),
  title: $("title"),
  model: $("model"),
  modelName: $("model-name"),
  theme: $("theme"),
  settingsButton: $("settings-button"),
  banner: $("banner"),
  messages: $("messages"),
  empty: $("empty"),
  composer: $("composer"),
  attachments: $("attachments"),
  attach: $("attach"),
  attachFile: $("attach-file"),
  input: $("input"),
  send: $("send"),
  stop: $("stop"),
  settings: $("settings"),
  settingsForm: $("settings-form"),
  settingsFields: $("settings-fields"),
  settingsError: $("settings-error"),
  settingsReset: $("settings-reset"),
  settingsCancel: $("settings-cancel"),
  forgetKey: $("forget-key"),
  keyDialog: $("key-dialog"),
  keyForm: $("key-form"),
  keyInput: $("key-input"),
  keyError: $("key-error"),
  toast: $("toast"),
};

const OPEN = "llamac.open"; // the conversation open at the last visit
const NEW_TITLE = "New chat";
const MAX_IMAGE_BYTES = 20 << 20;

const state = {
  settings: loadSettings(),
  list: [], // every conversation, most recently updated first
  current: null, // the open conversation (null: a new one, created at the first message)
  models: [],
  images: [], // data: URLs to send with the next message
  stream: null, // the answer being streamed: {controller, conv, msg, view}
  ready: false,
};

// A small element builder: h("button", {class: "x", onclick: f}, "text", child).
function h(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  e.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

let toastTimer = 0;
function toast(text, isError) {
  ui.toast.textContent = text;
  ui.toast.classList.toggle("error", !!isError);
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (ui.toast.hidden = true), isError ? 6000 : 2500);
}

function banner(text, action) {
  ui.banner.replaceChildren();
  ui.banner.hidden = !text;
  if (!text) return;
  ui.banner.append(h("span", null, text));
  if (action) ui.banner.append(h("button", { type: "button", class: "button", onclick: action.run }, action.label));
}

// ---------------------------------------------------------------------------------------------------------------
// Theme

function applyTheme() {
  const theme = THEMES.includes(state.settings.theme) ? state.settings.theme : "auto";
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  ui.theme.title = `Theme: ${theme === "auto" ? "automatic (as the system)" : theme}`;
}

function cycleTheme() {
  const i = THEMES.indexOf(state.settings.theme);
  state.settings.theme = THEMES[(i + 1) % THEMES.length];
  saveSettings(state.settings);
  applyTheme();
  toast(ui.theme.title);
}

// ---------------------------------------------------------------------------------------------------------------
// Conversations

function titleFrom(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line || NEW_TITLE;
}

// Saves a conversation (and moves it to the top of the list).
async function persist(conv) {
  if (conv.deleted) return; // an answer that was streaming into it has just ended
  conv.updated = Date.now();
  if (!state.list.includes(conv)) state.list.unshift(conv);
  state.list.sort((a, b) => b.updated - a.updated);
  renderList();
  try {
    await store.putConversation(conv);
  } catch (e) {
    toast(`This browser could not save the conversation: ${e.message || e}`, true);
  }
}

function renderList() {
  if (renaming) return; // redrawn when the rename ends
  ui.conversations.replaceChildren(
    ...state.list.map((c) => {
      const li = h("li", { class: `conv${c === state.current ? " active" : ""}`, "data-id": c.id });
      const open = h("button", { type: "button", class: "conv-title", title: c.title, onclick: () => openConversation(c) }, c.title);
      const rename = h("button", { type: "button", class: "conv-action conv-rename", title: "Rename", "aria-label": "Rename", onclick: () => startRename(li, c) }, "\u270E");
      const del = h("button", { type: "button", class: "conv-action conv-delete", title: "Delete", "aria-label": "Delete" }, "\u2715");
      del.addEventListener("click", () => {
        // a second click within 3 s confirms
        if (del.dataset.armed) return removeConversation(c);
        del.dataset.armed = "1";
        del.textContent = "Delete?";
        setTimeout(() => {
          delete del.dataset.armed;
          del.textContent = "\u2715";
        }, 3000);
      });
      li.append(open, rename, del);
      return li;
    }),
  );
}

let renaming = false;

function startRename(li, conv) {
  renaming = true;
  const input = h("input", { type: "text", class: "conv-rename-input", value: conv.title, "aria-label": "New name" });
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    renaming = false;
    const name = input.value.trim();
    if (save && name && name !== conv.title) {
      conv.title = name.slice(0, 200);
      if (conv === state.current) ui.title.textContent = conv.title;
      await persist(conv);
    } else {
      renderList();
    }
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") finish(true);
    else if (e.key === "Escape") {
      e.stopPropagation();
      finish(false);
    }
  });
  input.addEventListener("blur", () => finish(true));
  li.replaceChildren(input);
  input.focus();
  input.select();
}

async function removeConversation(conv) {
  conv.deleted = true;
  if (state.stream && state.stream.conv === conv) state.stream.controller.abort();
  state.list = state.list.filter((c) => c !== conv);
  try {
    await store.deleteConversation(conv.id);
  } catch (e) {
    toast(`Could not delete: ${e.message || e}`, true);
  }
  if (state.current === conv) openConversation(null);
  else renderList();
}

function openConversation(conv) {
  state.current = conv;
  if (conv) localStorage.setItem(OPEN, conv.id);
  else localStorage.removeItem(OPEN);
  renderList();
  renderConversation();
  closeNav();
}

function newConversation() {
  const now = Date.now();
  const conv = { id: store.newId(), title: NEW_TITLE, created: now, updated: now, messages: [] };
  state.current = conv;
  localStorage.setItem(OPEN, conv.id);
  return conv;
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

function statsText(msg) {
  const parts = [];
  const u = msg.usage;
  const t = msg.timings;
  const s = msg.stats;
  if (u && Number.isFinite(u.completion_tokens) && Number.isFinite(u.prompt_tokens)) {
    parts.push(`${u.completion_tokens} tokens`);
    let rate = t && Number.isFinite(t.predicted_per_second) ? t.predicted_per_second : 0;
    if (!rate && s && s.genMs > 0 && u.completion_tokens > 1) rate = (u.completion_tokens - 1) / (s.genMs / 1000);
    if (rate) parts.push(`${rate.toFixed(1)} tokens/s`);
    const cached = u.prompt_tokens_details && u.prompt_tokens_details.cached_tokens;
    parts.push(`prompt ${u.prompt_tokens} tokens${cached ? ` (${cached} cached)` : ""}`);
  }
  if (t && Number.isFinite(t.prompt_per_second)) parts.push(`prompt ${t.prompt_per_second.toFixed(0)} tokens/s`);
  if (s && Number.isFinite(s.firstMs)) parts.push(`first token after ${Math.round(s.firstMs)} ms`);
  if (msg.finish === "length") parts.push("cut at the token limit");
  if (msg.stopped) parts.push("stopped");
  else if (msg.pending && messageState(msg) !== "streaming") parts.push("interrupted"); // the page closed mid-answer
  return parts.join(" \u00b7 ");
}

function messageState(msg) {
  if (state.stream && state.stream.msg === msg) return "streaming";
  if (msg.error) return "error";
  if (msg.stopped || msg.pending) return "stopped";
  return "done";
}

// The DOM of one message: {root, update()}.
function messageView(conv, msg) {
  const isUser = msg.role === "user";
  const root = h("article", { class: `msg ${msg.role}`, "data-id": msg.id });
  const body = h("div", { class: isUser ? "msg-body user-text" : "msg-body md" });
  const images = h("div", { class: "msg-images" });
  const reasoning = h("details", { class: "reasoning" }, h("summary", null, "Reasoning"));
  const reasoningBody = h("div", { class: "md" });
  reasoning.append(reasoningBody);
  const meta = h("div", { class: "msg-meta" });
  const error = h("div", { class: "msg-error", role: "alert" });
  const actions = h("div", { class: "msg-actions" });
  const copy = h("button", { type: "button", class: "link-button msg-copy" }, "Copy");
  copy.addEventListener("click", async () => {
    copy.textContent = (await copyText(msg.content)) ? "Copied" : "Copy failed";
    setTimeout(() => (copy.textContent = "Copy"), 1500);
  });
  actions.append(copy);
  if (isUser) {
    actions.append(h("button", { type: "button", class: "link-button msg-edit", onclick: () => editMessage(conv, msg, view) }, "Edit"));
  } else {
    actions.append(h("button", { type: "button", class: "link-button msg-regenerate", onclick: () => regenerate(conv, msg) }, "Regenerate"));
  }
  root.append(h("div", { class: "msg-role" }, isUser ? "You" : msg.model || "Assistant"), images, reasoning, body, error, meta, actions);

  let shownReasoning = false;
  const view = {
    root,
    body,
    update() {
      const st = messageState(msg);
      root.dataset.state = st;
      if (isUser) {
        body.textContent = msg.content;
      } else {
        renderMarkdown(body, msg.content);
      }
      images.hidden = !(msg.images && msg.images.length);
      if (!images.hidden && !images.childElementCount) {
        images.append(...msg.images.map((src) => h("img", { src, alt: "attached image" })));
      }
      reasoning.hidden = !msg.reasoning;
      if (msg.reasoning) {
        renderMarkdown(reasoningBody, msg.reasoning);
        // open while only reasoning has come; closed once the answer starts (unless the user opened it)
        if (!shownReasoning && st === "streaming") reasoning.open = !msg.content;
        if (msg.content) shownReasoning = true;
      }
      error.hidden = !msg.error;
      error.textContent = msg.error || "";
      meta.textContent = st === "streaming" ? "" : statsText(msg);
      actions.hidden = st === "streaming";
    },
  };
  view.update();
  return view;
}

function nearBottom() {
  const m = ui.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
}

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function renderConversation() {
  const conv = state.current;
  ui.title.textContent = conv ? conv.title : NEW_TITLE;
  document.title = conv ? `${conv.title} - llamac chat` : "llamac chat";
  const views = [];
  for (const msg of conv ? conv.messages : []) {
    const view = messageView(conv, msg);
    if (state.stream && state.stream.msg === msg) state.stream.view = view;
    views.push(view.root);
  }
  ui.messages.replaceChildren(ui.empty, ...views);
  ui.empty.hidden = views.length > 0;
  scrollToBottom();
}

function appendView(conv, msg) {
  const view = messageView(conv, msg);
  ui.empty.hidden = true;
  ui.messages.append(view.root);
  scrollToBottom();
  return view;
}

// The conversation as the API takes it: images as content parts; failed empty answers left out.
function apiMessages(messages) {
  return messages
    .filter((m) => !(m.role === "assistant" && m.error && !m.content))
    .map((m) => {
      if (m.role === "user" && m.images && m.images.length) {
        const parts = [{ type: "text", text: m.content }];
        for (const url of m.images) parts.push({ type: "image_url", image_url: { url } });
        return { role: m.role, content: parts };
      }
      return { role: m.role, content: m.content };
    });
}

function setBusy(busy) {
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.app.classList.toggle("busy", busy);
}

function currentModel() {
  if (!ui.model.hidden && ui.model.value) return ui.model.value;
  return state.models.length ? state.models[0].id : undefined;
}

// Streams an answer to the conversation as it stands, appended as a new assistant message.
async function generate(conv) {
  const model = currentModel();
  const msg = { id: store.newId(), role: "assistant", content: "", model, pending: true, created: Date.now() };
  const body = buildRequest(state.settings, apiMessages(conv.messages), model);
  conv.messages.push(msg);
  const stream = { controller: new AbortController(), conv, msg, view: null };
  state.stream = stream;
  stream.view = appendView(conv, msg);
  setBusy(true);
  const t0 = performance.now();
  let tFirst = null;
  let tLast = null;
  let frame = 0;
  let saved = Date.now();
  const paint = () => {
    frame = 0;
    const follow = nearBottom();
    stream.view.update();
    if (follow) scrollToBottom();
  };
  try {
    const r = await streamChat(body, {
      signal: stream.controller.signal,
      onDelta(d) {
        if (typeof d.content === "string" && d.content) msg.content += d.content;
        if (typeof d.reasoning_content === "string" && d.reasoning_content) {
          msg.reasoning = (msg.reasoning || "") + d.reasoning_content;
        }
        if (d.content || d.reasoning_content) {
          tLast = performance.now();
          if (tFirst === null) tFirst = tLast;
        }
        if (!frame) frame = requestAnimationFrame(paint);
        if (Date.now() - saved > 1000) {
          saved = Date.now();
          persist(conv);
        }
      },
    });
    msg.finish = r.finish_reason || undefined;
    if (r.usage) msg.usage = r.usage;
    if (r.timings) msg.timings = r.timings;
  } catch (e) {
    if (e.name === "AbortError") msg.stopped = true;
    else {
      msg.error = e.message || String(e);
      if (e.status === 401) askKey(apiKey() ? "The server did not accept the key." : "");
    }
  }
  if (frame) cancelAnimationFrame(frame);
  msg.stats = {
    firstMs: tFirst === null ? null : tFirst - t0,
    genMs: tFirst === null ? 0 : tLast - tFirst,
    totalMs: performance.now() - t0,
  };
  delete msg.pending;
  state.stream = null;
  setBusy(false);
  const follow = nearBottom();
  stream.view.update();
  if (follow) scrollToBottom();
  await persist(conv);
}

function stop() {
  if (state.stream) state.stream.controller.abort();
}

async function submit() {
  if (state.stream) return;
  const text = ui.input.value;
  if (!text.trim() && !state.images.length) return;
  const conv = state.current || newConversation();
  const msg = { id: store.newId(), role: "user", content: text, created: Date.now() };
  if (state.images.length) msg.images = state.images.slice();
  conv.messages.push(msg);
  if (conv.title === NEW_TITLE) conv.title = titleFrom(text);
  ui.input.value = "";
  autosize();
  state.images = [];
  renderAttachments();
  ui.title.textContent = conv.title;
  await persist(conv);
  appendView(conv, msg);
  await generate(conv);
}

// Drops an answer and everything after it, and asks again.
async function regenerate(conv, msg) {
  if (state.stream) return;
  const i = conv.messages.indexOf(msg);
  if (i < 0) return;
  conv.messages.splice(i);
  renderConversation();
  await generate(conv);
}

// Turns a user message into an editor; sending replaces it and drops everything after it.
function editMessage(conv, msg, view) {
  if (state.stream) return;
  const area = h("textarea", { class: "edit-input", rows: 3, "aria-label": "Edit message" });
  area.value = msg.content;
  const cancel = h("button", { type: "button", class: "button", onclick: () => view.update() }, "Cancel");
  const save = h("button", { type: "button", class: "button primary" }, "Send");
  const send = async () => {
    if (state.stream || !area.value.trim()) return;
    msg.content = area.value;
    conv.messages.splice(conv.messages.indexOf(msg) + 1);
    renderConversation();
    await persist(conv);
    await generate(conv);
  };
  save.addEventListener("click", send);
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape") {
      e.stopPropagation();
      view.update();
    }
  });
  view.body.replaceChildren(area, h("div", { class: "edit-buttons" }, cancel, save));
  area.focus();
}

// ---------------------------------------------------------------------------------------------------------------
// Composer

function autosize() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 240)}px`;
}

function renderAttachments() {
  ui.attachments.replaceChildren(
    ...state.images.map((src, i) =>
      h(
        "div",
        { class: "attachment" },
        h("img", { src, alt: "attachment" }),
        h("button", { type: "button", class: "attachment-remove", "aria-label": "Remove", onclick: () => {
          state.images.splice(i, 1);
          renderAttachments();
        } }, "\u2715"),
      ),
    ),
  );
}

function readImage(file) {
  return new Promise((resolve, reject) => {
    if (!file.type.startsWith("image/")) return reject(new Error(`${file.name} is not an image`));
    if (file.size > MAX_IMAGE_BYTES) return reject(new Error(`${file.name} is larger than 20 MB`));
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Settings

const inputs = new Map(); // field key -> its input

function buildSettingsForm() {
  const themeSelect = h("select", { id: "set-theme" }, ...["auto", "light", "dark"].map((t) => h("option", { value: t }, t)));
  inputs.set("theme", themeSelect);
  const rows = [h("label", { class: "field" }, h("span", null, "Theme"), themeSelect)];
  for (const f of FIELDS) {
    const multiline = f.type === "text" || f.type === "list" || f.type === "json";
    const input = multiline
      ? h("textarea", { id: `set-${f.key}`, rows: f.type === "list" ? 2 : 3, placeholder: f.placeholder, spellcheck: "false" })
      : h("input", {
          id: `set-${f.key}`,
          type: "text",
          inputmode: f.min >= 0 ? "decimal" : undefined, // phones' decimal keypads have no minus sign
          placeholder: f.placeholder || "server default",
        });
    inputs.set(f.key, input);
    rows.push(h("label", { class: `field${multiline ? " wide" : ""}` }, h("span", null, f.label), input));
  }
  ui.settingsFields.replaceChildren(...rows);
}

function fillSettingsForm(settings) {
  inputs.get("theme").value = settings.theme || "auto";
  for (const f of FIELDS) inputs.get(f.key).value = fieldText(f, settings[f.key]);
  ui.settingsError.textContent = "";
  ui.forgetKey.hidden = !apiKey();
}

function saveSettingsForm(e) {
  e.preventDefault();
  const next = { ...state.settings, theme: inputs.get("theme").value };
  const errors = [];
  for (const f of FIELDS) {
    const r = parseField(f, inputs.get(f.key).value);
    inputs.get(f.key).classList.toggle("invalid", !!r.error);
    if (r.error) errors.push(r.error);
    else if (r.value === undefined) delete next[f.key];
    else next[f.key] = r.value;
  }
  if (errors.length) {
    ui.settingsError.textContent = errors.join("; ");
    return;
  }
  state.settings = next;
  saveSettings(next);
  applyTheme();
  ui.settings.close();
  toast("Settings saved");
}

// ---------------------------------------------------------------------------------------------------------------
// Server connection, API key, models

function askKey(message) {
  ui.keyError.textContent = message || "";
  ui.keyInput.value = "";
  if (!ui.keyDialog.open) ui.keyDialog.showModal();
  ui.keyInput.focus();
  banner("This server needs an API key.", { label: "Enter key", run: () => askKey("") });
}

function updateModels() {
  const models = state.models;
  ui.model.hidden = models.length < 2;
  ui.modelName.hidden = models.length !== 1;
  ui.modelName.textContent = models.length === 1 ? models[0].id : "";
  if (models.length > 1) {
    ui.model.replaceChildren(...models.map((m) => h("option", { value: m.id }, m.id)));
    ui.model.value = models.some((m) => m.id === state.settings.model) ? state.settings.model : models[0].id;
  }
  const entry = models.find((m) => m.id === currentModel());
  ui.attach.hidden = !takesImages(entry);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect() {
  for (;;) {
    let s;
    try {
      s = await health();
    } catch (e) {
      s = { ready: false, message: "the server does not answer" };
    }
    if (s.ready) break;
    const why = s.message.charAt(0).toUpperCase() + s.message.slice(1);
    banner(s.status === 503 ? `${why}...` : `Waiting for the server: ${s.message}`);
    await sleep(1000);
  }
  banner(null);
  try {
    state.models = await listModels();
  } catch (e) {
    if (e.status === 401) askKey(apiKey() ? "The server did not accept the key." : "");
    else banner(`Cannot list the models: ${e.message}`, { label: "Retry", run: connect });
    return;
  }
  updateModels();
  state.ready = true;
  document.body.dataset.ready = "true";
}

// ---------------------------------------------------------------------------------------------------------------
// Navigation on narrow screens

function closeNav() {
  ui.app.classList.remove("nav-open");
  ui.backdrop.hidden = true;
  ui.menu.setAttribute("aria-expanded", "false");
}

function toggleNav() {
  const open = !ui.app.classList.contains("nav-open");
  ui.app.classList.toggle("nav-open", open);
  ui.backdrop.hidden = !open;
  ui.menu.setAttribute("aria-expanded", String(open));
}

// ---------------------------------------------------------------------------------------------------------------
// Export / import

function exportAll() {
  const doc = store.exportDocument(state.list);
  const blob = new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" });
  const a = h("a", { href: URL.createObjectURL(blob), download: `llamac-chats-${new Date().toISOString().slice(0, 10)}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function importFile(file) {
  try {
    const doc = JSON.parse(await file.text());
    const convs = store.conversationsFromImport(doc, new Set(state.list.map((c) => c.id)));
    for (const c of convs) {
      await store.putConversation(c);
      state.list.push(c);
    }
    state.list.sort((a, b) => b.updated - a.updated);
    renderList();
    toast(`Imported ${convs.length} conversation${convs.length === 1 ? "" : "s"}`);
  } catch (e) {
    toast(`Cannot import ${file.name}: ${e.message || e}`, true);
  }
}

// ---------------------------------------------------------------------------------------------------------------

function wire() {
  ui.composer.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  ui.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  ui.input.addEventListener("input", autosize);
  ui.stop.addEventListener("click", stop);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.stream && !ui.settings.open && !ui.keyDialog.open) {
      e.preventDefault();
      stop();
    }
  });
  ui.newChat.addEventListener("click", () => {
    openConversation(null);
    ui.input.focus();
  });
  ui.menu.addEventListener("click", toggleNav);
  ui.backdrop.addEventListener("click", closeNav);
  ui.theme.addEventListener("click", cycleTheme);
  ui.model.addEventListener("change", () => {
    state.settings.model = ui.model.value;
    saveSettings(state.settings);
    updateModels();
  });
  ui.settingsButton.addEventListener("click", () => {
    fillSettingsForm(state.settings);
    ui.settings.showModal();
  });
  ui.settingsForm.addEventListener("submit", saveSettingsForm);
  ui.settingsCancel.addEventListener("click", () => ui.settings.close());
  ui.settingsReset.addEventListener("click", () => fillSettingsForm({ theme: "auto" }));
  ui.forgetKey.addEventListener("click", () => {
    setApiKey("");
    ui.forgetKey.hidden = true;
    toast("API key forgotten");
  });
  ui.keyForm.addEventListener("submit", (e) => {
    const key = ui.keyInput.value.trim();
    if (!key) {
      e.preventDefault();
      return;
    }
    setApiKey(key);
    connect();
  });
  ui.exportButton.addEventListener("click", exportAll);
  ui.importButton.addEventListener("click", () => ui.importFile.click());
  ui.importFile.addEventListener("change", () => {
    const f = ui.importFile.files[0];
    ui.importFile.value = "";
    if (f) importFile(f);
  });
  ui.attach.addEventListener("click", () => ui.attachFile.click());
  ui.attachFile.addEventListener("change", async () => {
    const files = [...ui.attachFile.files];
    ui.attachFile.value = "";
    for (const f of files) {
      try {
        state.images.push(await readImage(f));
      } catch (e) {
        toast(e.message, true);
      }
    }
    renderAttachments();
  });
}

async function init() {
  applyTheme();
  buildSettingsForm();
  wire();
  try {
    state.list = await store.listConversations();
  } catch (e) {
    toast(`This browser does not keep conversations here: ${e.message || e}`, true);
  }
  const open = localStorage.getItem(OPEN);
  openConversation(state.list.find((c) => c.id === open) || null);
  ui.input.focus();
  await connect();
}

init();
