// The web chat: sends one turn at a time to /web/api/turn and draws the reply.
// Plain DOM, no build step; every sentence comes from the server (texts.yaml or the flow).

const API = new URL("api/turn", document.baseURI);
const TYPING_AFTER_MS = 300;
const WEEKDAYS = "日月火水木金土";

const $ = (id) => document.getElementById(id);
const log = $("log");
const choices = $("choices");
const dateForm = $("date-form");
const dateInput = $("date-input");
const textForm = $("text-form");
const textInput = $("text-input");
const typing = $("typing");
const dev = document.body.dataset.dev === "1";
let busy = false;

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function say(who, text, extra = "") {
  const node = el("p", { className: `msg ${who} ${extra}`.trim(), textContent: text });
  log.append(node);
  return node;
}

function card(c) {
  const parts = [el("h2", { textContent: c.title })];
  if (c.rows.length) {
    parts.push(el("dl", {}, c.rows.flatMap((r) => [
      el("dt", { textContent: r.label }), el("dd", { textContent: r.value })])));
  }
  if (c.steps.length) parts.push(el("ol", {}, c.steps.map((s) => el("li", { textContent: s }))));
  if (c.notes.length) {
    parts.push(el("ul", { className: "notes" }, c.notes.map((n) => el("li", { textContent: n }))));
  }
  if (c.link) {
    parts.push(el("p", {}, [el("a", {
      href: c.link.url, textContent: c.link.label, target: "_blank", rel: "noopener noreferrer",
    })]));
  }
  if (c.footer) parts.push(el("p", { className: "footer", textContent: c.footer }));
  log.append(el("article", { className: "card" }, parts));
}

function jaDate(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const w = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return `${y}年${m}月${d}日(${w})`;
}

function draw(reply) {
  for (const t of reply.texts) say("bot", t);
  if (reply.card) card(reply.card);
  choices.replaceChildren(...reply.choices.map((c) => {
    const b = el("button", { type: "button", textContent: c.label });
    b.addEventListener("click", () => send({ choice: c.value, node: reply.node }, c.label));
    return b;
  }));
  if (reply.date) {
    say("bot", reply.date.prompt);
    $("date-label").textContent = reply.date.prompt;
    Object.assign(dateInput, { min: reply.date.min, max: reply.date.max, value: reply.date.initial });
    dateForm.dataset.node = reply.node;
    dateForm.hidden = false;
  } else {
    dateForm.hidden = true;
  }
  log.scrollTop = log.scrollHeight;
  // Keyboard users land on what the reply asks for next.
  const next = reply.date ? dateInput : choices.querySelector("button") || textInput;
  next.focus({ preventScroll: true });
}

async function send(body, shown) {
  if (busy) return;
  busy = true;
  if (shown) say("you", shown);
  const timer = setTimeout(() => { typing.hidden = false; }, TYPING_AFTER_MS);
  try {
    const res = await fetch(API, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    const data = await res.json();
    if (!res.ok) {
      say("bot", data.message || document.body.dataset.networkError, "error");
    } else if (data.reply) {
      draw(data.reply);
      if (dev && data.inspect) inspect(body, data.inspect);
    }
  } catch {
    say("bot", document.body.dataset.networkError, "error");
  } finally {
    clearTimeout(timer);
    typing.hidden = true;
    busy = false;
  }
}

textForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = textInput.value.trim();
  if (!text || busy) return; // kept in the box while a turn is under way, never dropped
  textInput.value = "";
  send({ text }, text);
});

dateForm.addEventListener("submit", (e) => {
  e.preventDefault();
  if (!dateInput.value) return;
  send({ date: dateInput.value, node: dateForm.dataset.node }, jaDate(dateInput.value));
});

// ---- the inspector (IIJBOT_DEV=1 only) ------------------------------------------------

function pre(value) {
  return el("pre", { textContent: JSON.stringify(value, null, 2) });
}

function platform(name, p) {
  const head = el("h4", {}, [name + " "]);
  const problems = p.problems || [];
  head.append(el("span", {
    className: problems.length ? "broken" : "ok",
    textContent: problems.length ? `✗ ${problems.join(" / ")}` : "✓ valid",
  }));
  return el("section", { className: `platform ${name.toLowerCase()}` }, [head, pre(p.json)]);
}

function inspect(sent, info) {
  const body = [
    el("p", { textContent: `${info.node_before} → ${info.node_after}` }),
    el("h4", { textContent: "input" }), pre(sent),
  ];
  if (info.understood) body.push(el("h4", { textContent: "understood" }), pre(info.understood));
  if (info.ranking) body.push(el("h4", { textContent: "topic scores (runner-up second)" }), pre(info.ranking));
  body.push(el("h4", { textContent: "session" }), pre(info.session));
  if (info.line) body.push(platform("LINE", info.line));
  if (info.slack) body.push(platform("Slack", info.slack));
  const turn = el("details", { open: true, className: "turn" }, [
    el("summary", { textContent: `${info.node_before} → ${info.node_after}` }), ...body]);
  for (const d of $("turns").querySelectorAll("details[open]")) d.open = false;
  $("turns").prepend(turn);
}

if (dev) {
  $("inspector").hidden = false;
  $("restart").addEventListener("click", () => {
    log.replaceChildren();
    send({ reset: true });
  });
  $("clock-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    await fetch(new URL("api/clock", document.baseURI), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ now: $("clock-input").value || null }),
    });
  });
}

// Framed by embed.js: Escape inside the chat closes the panel too (the key never reaches
// the help page while focus is in the frame).
if (window.parent !== window) {
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") window.parent.postMessage({ iijbot: "close" }, "*");
  });
}

send({ open: true });
