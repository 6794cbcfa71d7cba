// store.js - conversations kept in this browser (IndexedDB, one record per conversation), and their export/import
// as JSON.
//
// A conversation is {id, title, created, updated, messages: [{id, role, content, reasoning?, images?, ...}]}. The
// whole record is written at each change: conversations are small, and one put is atomic, so a reload mid-answer
// finds the conversation as it was last saved.

const DB = "llamac-chat";
const STORE = "conversations";
export const EXPORT_FORMAT = "llamac-chat";

let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const result = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

// A random id (crypto.randomUUID needs a secure context; a page opened at http://LAN-ADDRESS is not one).
export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Every conversation, most recently updated first.
export async function listConversations() {
  const all = (await tx("readonly", (s) => s.getAll())) || [];
  return all.sort((a, b) => b.updated - a.updated);
}

export function getConversation(id) {
  return tx("readonly", (s) => s.get(id));
}

export function putConversation(conv) {
  return tx("readwrite", (s) => s.put(conv));
}

export function deleteConversation(id) {
  return tx("readwrite", (s) => s.delete(id));
}

export function exportDocument(conversations) {
  return { format: EXPORT_FORMAT, version: 1, exported: new Date().toISOString(), conversations };
}

const ROLES = new Set(["system", "user", "assistant"]);

// The conversations of an imported document (this page's export, a list of conversations, or one), checked and
// given fresh ids where they collide with `taken`. Throws an Error that says what is wrong.
export function conversationsFromImport(doc, taken) {
  let list;
  if (doc && doc.format === EXPORT_FORMAT && Array.isArray(doc.conversations)) list = doc.conversations;
  else if (Array.isArray(doc)) list = doc;
  else if (doc && Array.isArray(doc.messages)) list = [doc];
  else throw new Error("not a conversation export (expected {\"format\": \"llamac-chat\", \"conversations\": [...]})");
  const now = Date.now();
  return list.map((c, i) => {
    if (!c || !Array.isArray(c.messages)) throw new Error(`conversation ${i + 1} has no messages array`);
    const messages = c.messages.map((m, k) => {
      if (!m || !ROLES.has(m.role) || typeof m.content !== "string") {
        throw new Error(`conversation ${i + 1}, message ${k + 1}: expected a role and a string content`);
      }
      const out = { id: typeof m.id === "string" ? m.id : newId(), role: m.role, content: m.content };
      if (typeof m.reasoning === "string" && m.reasoning) out.reasoning = m.reasoning;
      if (Array.isArray(m.images)) out.images = m.images.filter((u) => typeof u === "string" && u.startsWith("data:image/"));
      for (const k2 of ["usage", "timings", "stats"]) if (m[k2] && typeof m[k2] === "object") out[k2] = m[k2];
      for (const k2 of ["finish", "model", "error"]) if (typeof m[k2] === "string") out[k2] = m[k2];
      if (m.stopped === true) out.stopped = true;
      return out;
    });
    let id = typeof c.id === "string" && c.id ? c.id : newId();
    if (taken.has(id)) id = newId();
    taken.add(id);
    const created = Number.isFinite(c.created) ? c.created : now;
    return {
      id,
      title: typeof c.title === "string" && c.title.trim() ? c.title.trim().slice(0, 200) : "Imported chat",
      created,
      updated: Number.isFinite(c.updated) ? c.updated : created,
      messages,
    };
  });
}
