// markdown.js - model text to safe HTML: markdown (marked), sanitised (DOMPurify), code highlighted (highlight.js)
// under a bar with a Copy button, and math ($...$, $$...$$, \(...\), \[...\]) typeset as MathML by Temml, which is
// loaded the first time an answer has math.
//
// Model output is data, never markup: raw HTML in it is shown as text, and the HTML the renderer makes passes
// DOMPurify before it reaches the page. The page's Content-Security-Policy enforces that (Trusted Types): an HTML
// string reaches innerHTML only through setHTML's "llamac" policy, which sanitises it.

import { Marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.mjs";
import hljs from "../vendor/highlight.min.js";

const PURIFY = {
  FORBID_TAGS: ["style", "form", "button", "textarea", "select", "iframe", "object", "embed", "link", "meta", "base"],
  FORBID_ATTR: ["style"],
};

// Links open in a new tab and tell the target nothing about this page.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

const sanitize = (html) => DOMPurify.sanitize(html, PURIFY);
const policy = globalThis.trustedTypes ? globalThis.trustedTypes.createPolicy("llamac", { createHTML: sanitize }) : null;

// The only way this page puts an HTML string into the document.
export function setHTML(el, html) {
  el.innerHTML = policy ? policy.createHTML(html) : sanitize(html);
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// $$...$$ or \[...\] on lines of their own.
const mathBlock = {
  name: "mathBlock",
  level: "block",
  start(src) {
    const m = src.match(/^ {0,3}(?:\$\$|\\\[)/m);
    return m ? m.index : undefined;
  },
  tokenizer(src) {
    const m = /^ {0,3}\$\$([\s\S]+?)\$\$[ \t]*(?:\n+|$)/.exec(src) || /^ {0,3}\\\[([\s\S]+?)\\\][ \t]*(?:\n+|$)/.exec(src);
    if (m) return { type: "mathBlock", raw: m[0], text: m[1].trim(), display: true };
    return undefined;
  },
  renderer: (t) => `<div class="math math-display">${escapeHtml(t.text)}</div>`,
};

// $...$ (not "$5 and $6": no space inside the dollars, no digit after the closing one), \(...\), and the display
// forms inside a paragraph.
const mathInline = {
  name: "mathInline",
  level: "inline",
  start(src) {
    const i = src.search(/\$|\\\(|\\\[/);
    return i < 0 ? undefined : i;
  },
  tokenizer(src) {
    let m = /^\$\$([^$]+?)\$\$/.exec(src) || /^\\\[([\s\S]+?)\\\]/.exec(src);
    if (m) return { type: "mathInline", raw: m[0], text: m[1].trim(), display: true };
    m = /^\\\(([\s\S]+?)\\\)/.exec(src) || /^\$(?![\s$])((?:\\\$|[^$\n])+?)(?<![\s\\])\$(?!\d)/.exec(src);
    if (m) return { type: "mathInline", raw: m[0], text: m[1], display: false };
    return undefined;
  },
  renderer: (t) => `<span class="math${t.display ? " math-display" : ""}">${escapeHtml(t.text)}</span>`,
};

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    // HTML written by the model is text to show, not markup to render
    html: ({ text }) => escapeHtml(text),
    code({ text, lang }) {
      const language = (lang || "").trim().split(/\s+/)[0];
      const cls = language ? ` class="language-${escapeHtml(language)}"` : "";
      return `<pre><code${cls}>${escapeHtml(text)}</code></pre>\n`;
    },
  },
  extensions: [mathBlock, mathInline],
});

// Copies text to the clipboard; the Clipboard API needs a secure context (a page opened at a LAN address is not
// one), so it falls back to a selected textarea.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  }
}

function codeBar(lang, code) {
  const bar = document.createElement("div");
  bar.className = "code-bar";
  const label = document.createElement("span");
  label.textContent = lang || "text";
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "code-copy";
  copy.textContent = "Copy";
  copy.addEventListener("click", async () => {
    copy.textContent = (await copyText(code.textContent)) ? "Copied" : "Copy failed";
    setTimeout(() => (copy.textContent = "Copy"), 1500);
  });
  bar.append(label, copy);
  return bar;
}

let temml = null;
let temmlLoading = null;

function typeset(nodes) {
  if (!temml) {
    temmlLoading ||= import("../vendor/temml.mjs").then((m) => (temml = m.default));
    temmlLoading.then(() => typeset(nodes.filter((n) => n.isConnected)));
    return;
  }
  for (const n of nodes) {
    const tex = n.textContent;
    const display = n.classList.contains("math-display");
    // Temml builds the MathML with DOM calls (no HTML string, so no sanitiser: its styles are set through CSSOM,
    // which the CSP allows); trust: false refuses \href, \url and the like, so the TeX can add no link.
    temml.render(tex, n, { displayMode: display, throwOnError: false, trust: false });
    n.classList.add("typeset");
    n.title = tex;
  }
}

// Renders markdown into el: sanitised HTML, code blocks with a bar (language, Copy) and highlighting, math.
export function renderMarkdown(el, text) {
  setHTML(el, marked.parse(text));
  for (const pre of el.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    if (!code) continue;
    const lang = (/(?:^|\s)language-(\S+)/.exec(code.className) || [])[1] || "";
    if (lang && hljs.getLanguage(lang)) {
      setHTML(code, hljs.highlight(code.textContent, { language: lang, ignoreIllegals: true }).value);
      code.classList.add("hljs");
    }
    const block = document.createElement("div");
    block.className = "code-block";
    pre.replaceWith(block);
    block.append(codeBar(lang, code), pre);
  }
  const maths = [...el.querySelectorAll(".math:not(.typeset)")];
  if (maths.length) typeset(maths);
}
