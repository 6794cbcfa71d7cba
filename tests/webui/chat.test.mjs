// chat.test.mjs - the chat page of `llamac serve` in headless Chromium, against real servers on loopback running the
// tiny stories260K-chatml model (tests/cli/test_webui.sh starts them):
//   node chat.test.mjs URL KEY_URL KEY OUT_DIR
// URL serves without an API key, KEY_URL requires KEY. Answers whose content matters are forced by a GBNF grammar
// that the settings' "extra request fields" send through the real page and the real server, so the model really
// streams a hostile answer (<script>, <img onerror>, javascript: links) or markdown with code and math. The light and
// dark screenshots of the README are written to OUT_DIR.

import fs from "node:fs";
import path from "node:path";
import { launch } from "./browser.mjs";

// MEDIA_URL and IMAGE (optional): a server with a projector, and a PNG to attach there.
const [URL_PLAIN, URL_KEY, API_KEY, OUT_DIR, URL_MEDIA, IMAGE] = process.argv.slice(2);
if (!URL_PLAIN || !URL_KEY || !API_KEY || !OUT_DIR) {
  console.error("usage: node chat.test.mjs URL KEY_URL KEY OUT_DIR [MEDIA_URL IMAGE]");
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else {
    failed++;
    console.error(`FAIL: ${name}${detail === undefined ? "" : `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`}`);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// GBNF for exactly this text (a string literal with ", \ and newlines escaped).
const grammarFor = (text) => `root ::= "${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;

// A page with its console errors, CSP violations, dialogs and chat requests recorded.
async function openPage(context, url, viewport = { width: 1100, height: 720 }) {
  const page = await context.newPage();
  await page.setViewport(viewport);
  const rec = { errors: [], dialogs: [], requests: [] };
  page.on("pageerror", (e) => rec.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") rec.errors.push(`console: ${m.text()}`);
  });
  page.on("dialog", async (d) => {
    rec.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on("request", (r) => {
    if (r.url().endsWith("/v1/chat/completions")) {
      rec.requests.push({ body: JSON.parse(r.postData() || "null"), headers: r.headers() });
    }
  });
  // CSP violations are reported to the test as they happen (they would show something tried to run or load)
  rec.csp = [];
  await page.exposeFunction("__reportCsp", (v) => rec.csp.push(v));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__reportCsp(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber} ${e.sample}`),
    );
  });
  await page.goto(url);
  return { page, rec };
}

const ready = (page) => page.waitForSelector("body[data-ready]", { timeout: 30000 });

async function fill(page, selector, text) {
  await page.$eval(selector, (el) => {
    el.value = "";
  });
  if (text) await page.type(selector, text, { delay: 0 });
}

// Opens the settings, sets the fields given (by key; "" empties one), saves.
async function setSettings(page, values) {
  await page.click("#settings-button");
  await page.waitForSelector("#settings[open]");
  for (const [key, value] of Object.entries(values)) {
    if (key === "theme") await page.select("#set-theme", value);
    else await fill(page, `#set-${key}`, String(value));
  }
  await page.click("#settings-save");
  await page.waitForFunction(() => !document.querySelector("#settings").open, { timeout: 5000 });
}

async function send(page, text) {
  await fill(page, "#input", text);
  await page.focus("#input");
  await page.keyboard.press("Enter");
}

// The last answer: {state, text, meta, html}.
const lastAnswer = (page) =>
  page.evaluate(() => {
    const all = document.querySelectorAll(".msg.assistant");
    const m = all[all.length - 1];
    if (!m) return null;
    const body = m.querySelector(".msg-body");
    return { state: m.dataset.state, text: body.innerText, meta: m.querySelector(".msg-meta").textContent, html: body.innerHTML };
  });

async function waitAnswer(page, states = ["done"], timeout = 60000) {
  await page.waitForFunction(
    (s) => {
      const all = document.querySelectorAll(".msg.assistant");
      return all.length && s.includes(all[all.length - 1].dataset.state);
    },
    { timeout, polling: 50 },
    states,
  );
  return lastAnswer(page);
}

// The conversations as the page stored them in IndexedDB.
const stored = (page) =>
  page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open("llamac-chat");
        req.onsuccess = () => {
          const get = req.result.transaction("conversations").objectStore("conversations").getAll();
          get.onsuccess = () => resolve(get.result.sort((a, b) => b.updated - a.updated));
          get.onerror = () => reject(get.error);
        };
        req.onerror = () => reject(req.error);
      }),
  );

// The same request, not streamed, straight to the server: what the page should have shown.
async function serverAnswer(url, body, key) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ ...body, stream: false, stream_options: undefined }),
  });
  return (await res.json()).choices[0].message.content;
}

const squash = (s) => s.replace(/\s+/g, " ").trim();

async function main() {
  const { browser, close } = await launch();
  try {
    const downloads = fs.mkdtempSync(path.join(OUT_DIR, "downloads-"));
    const context = await browser.createBrowserContext({ downloadBehavior: { policy: "allow", downloadPath: downloads } });
    await context.overridePermissions(URL_PLAIN, ["clipboard-read", "clipboard-write", "clipboard-sanitized-write"]);
    const { page, rec } = await openPage(context, `${URL_PLAIN}/`);

    // --- the page loads, talks to the server, and obeys its own CSP
    await ready(page);
    check("model shown", (await page.$eval("#model-name", (e) => e.textContent)) === "stories260K-chatml.gguf");
    check("no image button without a projector", await page.$eval("#attach", (e) => e.hidden));
    check("Trusted Types enforced", await page.evaluate(() => {
      try {
        document.body.insertAdjacentHTML("beforeend", "<b>x</b>");
        return false;
      } catch (e) {
        return e instanceof TypeError;
      }
    }));
    await sleep(100);
    // the probe's own refusal is reported; nothing else may be
    rec.errors = rec.errors.filter((e) => !/requires 'TrustedHTML' assignment/.test(e));
    rec.csp = rec.csp.filter((v) => !/insertAdjacentHTML\|<b>x<\/b>/.test(v));

    // --- settings are sent; the streamed answer grows, finishes, and is the server's answer
    await setSettings(page, { system: "You are a storyteller.", temperature: "0", max_tokens: "24", seed: "7", top_k: "20" });
    // a slow link makes every streamed chunk arrive on its own
    await page.emulateNetworkConditions({ download: 2500, upload: 1e9, latency: 0 });
    await send(page, "Tell me a story about a cat.");
    const lengths = [];
    for (let i = 0; i < 2000; i++) {
      const a = await lastAnswer(page);
      if (a && a.state !== "streaming" && i > 0) break;
      if (a && (lengths.length === 0 || lengths[lengths.length - 1] !== a.text.length)) lengths.push(a.text.length);
      await sleep(25);
    }
    await page.emulateNetworkConditions(null);
    const first = await waitAnswer(page);
    check("the answer grew while streaming", lengths.filter((n) => n > 0).length >= 3, lengths);
    const req = rec.requests[rec.requests.length - 1];
    check("request: temperature", req.body.temperature === 0, req.body);
    check("request: max_tokens", req.body.max_tokens === 24, req.body);
    check("request: seed and top_k", req.body.seed === 7 && req.body.top_k === 20, req.body);
    check("request: system prompt first", req.body.messages[0].role === "system" && req.body.messages[0].content === "You are a storyteller.");
    check("request: the user's message", req.body.messages[1].content === "Tell me a story about a cat.");
    check("request: streamed with usage", req.body.stream === true && req.body.stream_options.include_usage === true);
    check("request: unset fields left to the server", !("top_p" in req.body) && !("min_p" in req.body));
    const expected = await serverAnswer(URL_PLAIN, req.body);
    let convs = await stored(page);
    check("stored answer is the server's answer", convs[0].messages[1].content === expected, [convs[0].messages[1].content, expected]);
    check("shown answer is the server's answer", squash(first.text) === squash(expected), [first.text, expected]);
    check("token count under the answer", /^24 tokens · [\d.]+ tokens\/s · prompt \d+ tokens/.test(first.meta), first.meta);
    check("title from the first message", (await page.$eval("#title", (e) => e.textContent)) === "Tell me a story about a cat.");

    // --- regenerate (greedy: the same answer again), then edit and resend
    await page.click(".msg.assistant .msg-regenerate");
    const again = await waitAnswer(page);
    check("regenerate gives the greedy answer again", squash(again.text) === squash(expected));
    check("regenerate replaces the answer", (await page.$$(".msg")).length === 2);
    await page.click(".msg.user .msg-edit");
    await fill(page, ".msg.user .edit-input", "Tell me a story about a dog.");
    await page.keyboard.press("Enter");
    const edited = await waitAnswer(page);
    const editReq = rec.requests[rec.requests.length - 1];
    check("edit resends the edited message", editReq.body.messages.length === 2 && editReq.body.messages[1].content === "Tell me a story about a dog.");
    check("edited conversation has 2 messages", (await page.$$(".msg")).length === 2);
    check("edited answer is the server's", squash(edited.text) === squash(await serverAnswer(URL_PLAIN, editReq.body)));

    // --- Stop mid-answer (Esc), on a slow link so the answer is still coming
    await setSettings(page, { max_tokens: "400" });
    await page.click("#new-chat");
    await page.emulateNetworkConditions({ download: 1500, upload: 1e9, latency: 0 });
    await send(page, "Once upon a time");
    await page.waitForFunction(() => {
      const m = document.querySelector(".msg.assistant");
      return m && m.dataset.state === "streaming" && m.querySelector(".msg-body").textContent.length > 20;
    }, { timeout: 60000, polling: 25 });
    check("Stop button shown while streaming", !(await page.$eval("#stop", (e) => e.hidden)) && (await page.$eval("#send", (e) => e.hidden)));
    await page.keyboard.press("Escape");
    const stopped = await waitAnswer(page, ["stopped"], 10000);
    await page.emulateNetworkConditions(null);
    await sleep(1500);
    const later = await lastAnswer(page);
    check("stopped answer keeps its text", stopped.text.length > 20 && later.text === stopped.text, [stopped.text.length, later.text.length]);
    check("stopped answer says so", /stopped/.test(later.meta), later.meta);
    check("Send is back after Stop", !(await page.$eval("#send", (e) => e.hidden)) && (await page.$eval("#stop", (e) => e.hidden)));
    // the Stop button, on the regenerated answer
    await page.emulateNetworkConditions({ download: 1500, upload: 1e9, latency: 0 });
    await page.click(".msg.assistant .msg-regenerate");
    await page.waitForFunction(() => {
      const m = document.querySelector(".msg.assistant");
      return m && m.dataset.state === "streaming" && m.querySelector(".msg-body").textContent.length > 20;
    }, { timeout: 60000, polling: 25 });
    await page.click("#stop");
    const stopped2 = await waitAnswer(page, ["stopped"], 10000);
    await page.emulateNetworkConditions(null);
    check("Stop button stops", stopped2.state === "stopped" && stopped2.text.length > 5, stopped2);
    // the server freed the slot: the next answer comes
    convs = await stored(page);
    const stoppedText = convs[0].messages[1].content;
    check("stopped answer stored", convs[0].messages.length === 2 && stoppedText.length > 5 && stopped2.text.startsWith(stoppedText.slice(0, 5)));

    // --- reload: the conversations and the settings are still there
    await page.reload();
    await ready(page);
    const titles = await page.$$eval(".conv .conv-title", (els) => els.map((e) => e.textContent));
    // (the title stays the first message's, as it was typed)
    check("conversations listed after reload", titles.length === 2 && titles[0] === "Once upon a time" && titles[1] === "Tell me a story about a cat.", titles);
    const afterReload = await lastAnswer(page);
    check("open conversation restored", afterReload && afterReload.state === "stopped" && squash(afterReload.text) === squash(stoppedText), afterReload);
    await page.click(".conv:nth-child(2) .conv-title");
    const reopened = await lastAnswer(page);
    check("older conversation opens", squash(reopened.text) === squash(edited.text));
    await page.click("#settings-button");
    await page.waitForSelector("#settings[open]");
    const saved = await page.evaluate(() => ({
      temperature: document.querySelector("#set-temperature").value,
      max: document.querySelector("#set-max_tokens").value,
      system: document.querySelector("#set-system").value,
    }));
    check("settings remembered", saved.temperature === "0" && saved.max === "400" && saved.system === "You are a storyteller.", saved);
    // a bad value is refused with a message, nothing saved
    await fill(page, "#set-top_p", "1.5");
    await fill(page, "#set-custom", "{not json");
    await page.click("#settings-save");
    const settingsError = await page.$eval("#settings-error", (e) => e.textContent);
    check("bad settings refused", /Top-p: must be from 0 to 1/.test(settingsError) && /not valid JSON/.test(settingsError), settingsError);
    check("dialog stays open on a bad value", await page.$eval("#settings", (e) => e.open));
    await page.click("#settings-cancel");

    // --- a hostile answer stays inert: the model is made to write HTML and script (grammar), in the answer and in
    // the reasoning; the user's own text has some too
    const hostile =
      "<think>plan <img src=x onerror=\"window.__xss=5;alert(5)\"></think>" +
      "Hi <img src=x onerror=\"window.__xss=1;alert(1)\"> <script>window.__xss=2;alert(2)</script> " +
      "[click me](javascript:window.__xss=3) <a href=\"javascript:alert(6)\">a</a> " +
      "<svg onload=\"alert(7)\"></svg> <iframe src=\"javascript:alert(8)\"></iframe> **bold**";
    await setSettings(page, { max_tokens: "600", top_p: "", custom: JSON.stringify({ grammar: grammarFor(hostile) }) });
    await page.click("#new-chat");
    await send(page, "<img src=y onerror=\"window.__xss=4;alert(4)\"> hello");
    const xss = await waitAnswer(page, ["done"], 120000);
    await sleep(300);
    const probe = await page.evaluate(() => {
      const msgs = document.querySelector("#messages");
      const handlers = [...msgs.querySelectorAll("*")].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name)));
      return {
        xss: window.__xss,
        scripts: msgs.querySelectorAll("script, iframe, svg").length,
        imgs: msgs.querySelectorAll("img").length,
        handlers: handlers.length,
        jsLinks: [...msgs.querySelectorAll("a")].filter((a) => /^\s*javascript:/i.test(a.getAttribute("href") || "")).length,
        reasoning: document.querySelector(".msg.assistant .reasoning .md").textContent,
        reasoningHidden: document.querySelector(".msg.assistant .reasoning").hidden,
        user: document.querySelector(".msg.user .msg-body").textContent,
      };
    });
    const xssReq = rec.requests[rec.requests.length - 1];
    check("grammar sent as an extra field", xssReq.body.grammar === grammarFor(hostile) && xssReq.body.max_tokens === 600);
    check("hostile answer: no script ran", probe.xss === undefined && rec.dialogs.length === 0, [probe.xss, rec.dialogs]);
    check("hostile answer: no live elements", probe.scripts === 0 && probe.imgs === 0 && probe.handlers === 0 && probe.jsLinks === 0, probe);
    check("hostile answer: shown as text", xss.text.includes('<img src=x onerror="window.__xss=1;alert(1)">') && xss.text.includes("<script>"), xss.text);
    check("hostile answer: markdown still rendered", xss.html.includes("<strong>bold</strong>"), xss.html);
    check("hostile answer: nothing for the CSP to block", rec.csp.length === 0, rec.csp);
    check("reasoning in its own block, as text", !probe.reasoningHidden && probe.reasoning.includes("<img src=x onerror="), probe.reasoning);
    check("user's HTML shown as text", probe.user === "<img src=y onerror=\"window.__xss=4;alert(4)\"> hello", probe.user);
    // clicking the would-be javascript: link does nothing either
    const link = await page.$(".msg.assistant .msg-body a");
    if (link) await link.click();
    await sleep(200);
    check("link click runs nothing", (await page.evaluate(() => window.__xss)) === undefined && rec.dialogs.length === 0);

    // --- markdown, highlighted code with a Copy button, math (the model made to write them)
    const md = "Here is **bold** and `x`.\n\n```js\nconst answer = 42;\n```\n\nMath: $x^2+1$ and\n\n$$\\frac{a}{b}$$\n";
    await setSettings(page, { custom: JSON.stringify({ grammar: grammarFor(md) }) });
    await page.click("#new-chat");
    await send(page, "Show me code and math.");
    await waitAnswer(page, ["done"], 120000);
    await page.waitForSelector(".msg.assistant math", { timeout: 10000 });
    const render = await page.evaluate(() => {
      const b = document.querySelector(".msg.assistant .msg-body");
      return {
        lang: b.querySelector(".code-bar span")?.textContent,
        keyword: b.querySelector("code.hljs .hljs-keyword")?.textContent,
        maths: b.querySelectorAll("math").length,
        display: b.querySelectorAll(".math-display math").length,
        strong: b.querySelector("strong")?.textContent,
      };
    });
    check("code block with language bar", render.lang === "js", render);
    check("code highlighted", render.keyword === "const", render);
    check("math typeset as MathML", render.maths === 2 && render.display === 1, render);
    await page.click(".msg.assistant .code-copy");
    await sleep(200);
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    check("Copy copies the code", clip.trim() === "const answer = 42;", clip);

    // --- keyboard: Shift+Enter is a new line, Enter sends
    await setSettings(page, { custom: "", max_tokens: "8" });
    await page.click("#new-chat");
    await fill(page, "#input", "line one");
    await page.keyboard.down("Shift");
    await page.keyboard.press("Enter");
    await page.keyboard.up("Shift");
    await page.type("#input", "line two");
    check("Shift+Enter adds a line", (await page.$eval("#input", (e) => e.value)) === "line one\nline two");
    await page.keyboard.press("Enter");
    await waitAnswer(page);
    check("Enter sends both lines", rec.requests[rec.requests.length - 1].body.messages.at(-1).content === "line one\nline two");
    check("composer empty after send", (await page.$eval("#input", (e) => e.value)) === "");

    // --- rename, delete (two clicks), export, import
    await page.click(".conv.active .conv-rename");
    await page.waitForSelector(".conv-rename-input");
    await fill(page, ".conv-rename-input", "Two lines");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("#title").textContent === "Two lines");
    convs = await stored(page);
    check("rename stored", convs[0].title === "Two lines");
    const n0 = (await stored(page)).length;
    await page.click(".conv.active .conv-delete");
    check("delete asks first", (await stored(page)).length === n0);
    await page.click(".conv.active .conv-delete");
    await page.waitForFunction((n) => document.querySelectorAll(".conv").length === n - 1, {}, n0);
    convs = await stored(page);
    check("delete removes it", convs.length === n0 - 1 && !convs.some((c) => c.title === "Two lines"));
    check("after delete: a new chat", (await page.$eval("#title", (e) => e.textContent)) === "New chat");
    await page.click("#export");
    let exported = null;
    for (let i = 0; i < 100 && !exported; i++) {
      const f = fs.readdirSync(downloads).find((n) => n.endsWith(".json"));
      if (f) exported = JSON.parse(fs.readFileSync(path.join(downloads, f), "utf8"));
      else await sleep(100);
    }
    check("export: every conversation", exported && exported.format === "llamac-chat" && exported.conversations.length === n0 - 1, exported && exported.conversations.length);
    const importFile = path.join(downloads, "import.json");
    const importDoc = { ...exported, conversations: [{ ...exported.conversations[0], title: "Imported copy" }] };
    fs.writeFileSync(importFile, JSON.stringify(importDoc));
    const [chooser] = await Promise.all([page.waitForFileChooser(), page.click("#import")]);
    await chooser.accept([importFile]);
    await page.waitForFunction((n) => document.querySelectorAll(".conv").length === n, {}, n0);
    convs = await stored(page);
    const copy = convs.find((c) => c.title === "Imported copy");
    check("import adds a conversation with a fresh id", copy && copy.id !== exported.conversations[0].id && copy.messages.length === exported.conversations[0].messages.length);
    const badFile = path.join(downloads, "bad.json");
    fs.writeFileSync(badFile, JSON.stringify({ format: "llamac-chat", conversations: [{ messages: [{ role: "robot", content: 1 }] }] }));
    const [chooser2] = await Promise.all([page.waitForFileChooser(), page.click("#import")]);
    await chooser2.accept([badFile]);
    await page.waitForSelector("#toast.error:not([hidden])");
    const toast = await page.$eval("#toast", (e) => e.textContent);
    check("bad import explained", /message 1: expected a role and a string content/.test(toast), toast);
    check("bad import adds nothing", (await stored(page)).length === n0);

    // --- theme: the toggle pins light / dark
    await setSettings(page, { theme: "dark" });
    const dark = await page.evaluate(() => [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor]);
    await setSettings(page, { theme: "light" });
    const light = await page.evaluate(() => [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor]);
    check("dark theme", dark[0] === "dark" && dark[1] !== light[1], [dark, light]);
    check("light theme", light[0] === "light" && light[1] === "rgb(255, 255, 255)", light);
    await setSettings(page, { theme: "auto" });

    // --- a phone: the sidebar is a drawer
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
    const off = await page.$eval("#sidebar", (e) => e.getBoundingClientRect().right);
    await page.click("#menu");
    await sleep(400);
    const on = await page.$eval("#sidebar", (e) => e.getBoundingClientRect().left);
    await page.click("#backdrop", { offset: { x: 370, y: 400 } });
    await sleep(400);
    const offAgain = await page.$eval("#sidebar", (e) => e.getBoundingClientRect().right);
    const composer = await page.$eval("#composer", (e) => e.getBoundingClientRect().toJSON());
    check("phone: sidebar hidden, opened by the menu", off <= 0 && on === 0 && offAgain <= 0, [off, on, offAgain]);
    check("phone: composer on screen", composer.bottom <= 844 && composer.width <= 390, composer);

    check("no errors in the page", rec.errors.length === 0, { errors: rec.errors, csp: rec.csp });
    await context.close();

    // --- a server with --api-key: the page asks for the key, refuses a wrong one, works with the right one
    const kctx = await browser.createBrowserContext();
    const k = await openPage(kctx, `${URL_KEY}/`);
    await k.page.waitForSelector("#key-dialog[open]", { timeout: 30000 }).catch(() => {});
    check("key asked for", await k.page.$eval("#key-dialog", (e) => e.open));
    await fill(k.page, "#key-input", "wrong-key");
    await k.page.click("#key-save");
    await k.page.waitForFunction(() => document.querySelector("#key-error").textContent !== "", { timeout: 10000 });
    check("wrong key refused", await k.page.$eval("#key-dialog", (e) => e.open));
    await fill(k.page, "#key-input", API_KEY);
    await k.page.click("#key-save");
    await ready(k.page);
    check("right key accepted", !(await k.page.$eval("#key-dialog", (e) => e.open)) && (await k.page.$eval("#banner", (e) => e.hidden)));
    await setSettings(k.page, { temperature: "0", max_tokens: "12" });
    await send(k.page, "Hello");
    const keyed = await waitAnswer(k.page);
    const kreq = k.rec.requests[k.rec.requests.length - 1];
    check("request carries the key", kreq.headers.authorization === `Bearer ${API_KEY}`);
    check("answer with the key", keyed.state === "done" && squash(keyed.text) === squash(await serverAnswer(URL_KEY, kreq.body, API_KEY)));
    // a key that stops working: the answer reports it and the page asks again
    await k.page.evaluate(() => localStorage.setItem("llamac.apiKey", "revoked"));
    await send(k.page, "Hello again");
    const refused = await waitAnswer(k.page, ["error"]);
    check("rejected key: error shown", /invalid or missing API key/.test(await k.page.$eval(".msg.assistant:last-of-type .msg-error", (e) => e.textContent)), refused);
    check("rejected key: asked again", await k.page.$eval("#key-dialog", (e) => e.open));
    const keyErrors = k.rec.errors.filter((e) => !/status of 401/.test(e));
    check("no errors but the 401s", keyErrors.length === 0, keyErrors);
    await kctx.close();

    // --- with a projector: the image button shows, an attached image goes as an image_url part and is answered
    if (URL_MEDIA) {
      const mctx = await browser.createBrowserContext();
      const m = await openPage(mctx, `${URL_MEDIA}/`);
      await ready(m.page);
      await m.page.waitForSelector("#attach:not([hidden])", { timeout: 10000 }).catch(() => null);
      check("image button with a projector", !(await m.page.$eval("#attach", (e) => e.hidden)));
      const input = await m.page.$("#attach-file");
      await input.uploadFile(IMAGE);
      await m.page.waitForSelector(".attachment img", { timeout: 10000 }).catch(() => null);
      check("attached image shown", (await m.page.$$(".attachment img")).length === 1);
      await setSettings(m.page, { temperature: "0", max_tokens: "16" });
      await send(m.page, "Describe it");
      const answer = await waitAnswer(m.page, ["done", "error"]);
      check("image answer", answer && answer.state === "done" && answer.text.length > 0, answer);
      const sent = m.rec.requests.length ? m.rec.requests[m.rec.requests.length - 1].body : null;
      const parts = sent && sent.messages[sent.messages.length - 1].content;
      check("image sent as an image_url part", Array.isArray(parts) &&
        parts.some((p) => p.type === "image_url" && p.image_url.url.startsWith("data:image/png;base64,")), sent);
      check("image: no page errors", m.rec.errors.length === 0 && m.rec.csp.length === 0, [m.rec.errors, m.rec.csp]);
      await mctx.close();
    }

    // --- the README's screenshots, light and dark (the system's choice, the page's automatic theme)
    const sctx = await browser.createBrowserContext();
    const s = await openPage(sctx, `${URL_PLAIN}/`, { width: 1100, height: 680 });
    await ready(s.page);
    await setSettings(s.page, { temperature: "0", max_tokens: "64" });
    await send(s.page, "Tell me a story about a brave little cat.");
    await waitAnswer(s.page);
    await s.page.click("#new-chat");
    await send(s.page, "Once upon a time, there was a dragon");
    await waitAnswer(s.page);
    await s.page.evaluate(() => document.activeElement.blur());
    await s.page.waitForSelector("#toast", { hidden: true, timeout: 10000 });
    for (const scheme of ["light", "dark"]) {
      await s.page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
      await sleep(200);
      const file = path.join(OUT_DIR, `webui-${scheme}.png`);
      await s.page.screenshot({ path: file });
      check(`screenshot ${scheme}`, fs.statSync(file).size > 10000);
    }
    const bgs = await s.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check("automatic theme follows the system", bgs !== "rgb(255, 255, 255)", bgs);
    await sctx.close();
  } finally {
    await close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
