// pyrostage web page: plain fetch + EventSource against the app's own /api (no framework).
// Cards are built once per node and mode, then updated in place so typing is never lost.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const enc = encodeURIComponent;
const nodes = new Map(); // name -> {data, at (when read), card, mode, history (to reload), ...}
const COLOURS = ["red", "orange", "yellow", "green", "blue", "purple", "white", "black"];
let info = {};
let race = null;
let loaded = false;
let offline = false;
let lastId = "";
let source = null;
let revive = null; // a fresh start, due if the browser's own reconnection has not come back
const REVIVE_MS = 6000;
let ticking = null;

// -- small helpers --------------------------------------------------------------------------

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...kids.filter((k) => k != null));
  return el;
}

const signed = (n) => (n > 0 ? "+" + n : n < 0 ? "−" + -n : "0");
const hhmm = (e) => (e.local || (e.time || "").slice(11) || "").slice(0, 5);
const hex = (rgb) => "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");
const rgb = (hx) => [1, 3, 5].map((i) => parseInt(hx.slice(i, i + 2), 16)).join(",");

// as the timer shows it: SS.mmm or M:SS.mmm, digits cut (not rounded) as stopwatches do
function clock(s, exact) {
  const ms = Math.floor(Math.max(0, s) * 1000 + 1e-6);
  const m = Math.floor(ms / 60000);
  const sec = (ms % 60000) / 1000;
  const rest = exact ? sec.toFixed(3) : (Math.floor(sec * 10) / 10).toFixed(1);
  return m ? `${m}:${rest.padStart(exact ? 6 : 4, "0")}` : rest.padStart(exact ? 6 : 4, "0");
}

function words(text) {
  const out = [];
  for (const m of text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function say(el, text, bad = false) {
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("bad", bad);
  clearTimeout(el._t);
  if (text) el._t = setTimeout(() => (el.textContent = ""), bad ? 9000 : 4000);
}

// -- the API --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body, timeoutMs) {
  const opts = { method, headers: { "X-Pyrostage": "1", Accept: "application/json" } };
  if (timeoutMs) opts.signal = AbortSignal.timeout(timeoutMs);
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch {
    throw new ApiError(0, "the web server did not answer");
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.ok) return data;
  if (res.status === 401) askToken();
  throw new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`);
}

function call(name, command, ws = []) {
  return api("POST", `/api/nodes/${enc(name)}/call`, { command, words: ws.map(String) });
}

// act: run a node command from a card, say what went wrong there, refresh the card.
async function act(name, command, ws, done) {
  const n = nodes.get(name);
  if (n) n.acting = (n.acting || 0) + 1; // a card read meanwhile must not undo the click
  try {
    const r = await call(name, command, ws);
    if (n) n.acting--;
    if (done) done(r.result);
    refresh(name, command.startsWith("scoreboard."));
    return r.result;
  } catch (e) {
    if (n) n.acting--;
    say(n && $(".msg", n.card), `${command}: ${e.message}`, true);
    refresh(name); // put back what a refused control shows
  }
}

function sel() {
  return $("#sel").value.trim() || "all";
}

function summarize(results) {
  return Object.entries(results || {})
    .map(([n, r]) => (r.error != null ? `${n}: ✗ ${r.error}` : `${n}: ${show(r.result)}`))
    .join(" · ");
}

const cut = (t) => (t.length > 80 ? t.slice(0, 79) + "…" : t);
const show = (v) => (v == null ? "ok" : cut(typeof v === "object" ? JSON.stringify(v) : String(v)));

async function together(method, path, body, label) {
  const msg = $("#group-msg");
  try {
    const r = await api(method, path, body);
    const bad = Object.values((r && r.results) || {}).some((x) => x.error != null);
    say(msg, r && r.results ? `${label}: ${summarize(r.results)}` : `${label}: done`, bad);
    return r;
  } catch (e) {
    say(msg, `${label}: ${e.message}`, true);
  }
}

// -- loading --------------------------------------------------------------------------------

async function loadAll() {
  let list;
  try {
    list = await api("GET", "/api/nodes");
  } catch (e) {
    if (e.status !== 401) say($("#group-msg"), `screens: ${e.message}`, true);
    return;
  }
  const seen = new Set();
  for (const data of list) {
    seen.add(data.name);
    put(data);
  }
  for (const [name, n] of nodes) {
    if (!seen.has(name)) {
      n.card.remove();
      nodes.delete(name);
    }
  }
  $("#empty").hidden = nodes.size > 0;
  loadGroups(list);
  loadPresets();
  api("GET", "/api/race").then(renderRace, () => {});
}

let reloading = null;
function reload() {
  reloading ||= loadAll().finally(() => (reloading = null));
}

async function loadGroups(list) {
  const opts = ["all"];
  try {
    opts.push(...Object.keys(await api("GET", "/api/groups")).map((g) => "@" + g));
  } catch {}
  opts.push(...list.map((n) => n.name));
  $("#sel-list").replaceChildren(...opts.map((v) => h("option", { value: v })));
}

async function loadPresets(pick) {
  const box = $("#preset");
  const keep = pick || box.value;
  try {
    const presets = await api("GET", "/api/presets");
    box.replaceChildren(...presets.map((p) =>
      h("option", { value: p.name, text: `${p.name} (${p.nodes.join(", ")})` })));
    if (keep) box.value = keep;
  } catch (e) {
    box.replaceChildren(h("option", { value: "", disabled: true, text: `presets: ${e.message}` }));
  }
}

// refresh: re-read one node, coalescing bursts of events into one request at a time.
function refresh(name, withHistory = false) {
  let n = nodes.get(name);
  if (!n) {
    if (loaded) reload(); // a node we have not seen: it joined
    return;
  }
  n.history ||= withHistory;
  if (n.busy) return void (n.again = true);
  clearTimeout(n.wait);
  n.wait = setTimeout(async () => {
    n.busy = true;
    try {
      put(await api("GET", `/api/nodes/${enc(name)}`));
    } catch (e) {
      if (e.status === 404) {
        n.card.remove();
        nodes.delete(name);
      } else say($(".msg", n.card), e.message, true);
    } finally {
      n.busy = false;
      if (n.again) {
        n.again = false;
        refresh(name);
      }
    }
  }, 60);
}

// shot: a fresh thumbnail once the screen changed, and again once a count-up has settled.
function screenChanged(name) {
  const n = nodes.get(name);
  if (!n) return;
  clearTimeout(n.t1);
  clearTimeout(n.t2);
  n.t1 = setTimeout(() => shot(n), 120);
  n.t2 = setTimeout(() => shot(n), 1500);
}

function shot(n) {
  if (n.data.error) return; // nothing to show: the card says why
  if (n.loading) return void (n.shotAgain = true);
  const img = $(".thumb", n.card);
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  const w = Math.max(160, Math.min(640, Math.round((img.clientWidth || 320) * dpr)));
  n.loading = true;
  img.src = `/api/nodes/${enc(n.data.name)}/snapshot.png?w=${w}&v=${++n.shots}`;
}

function shotDone(n) {
  n.loading = false;
  if (n.shotAgain) {
    n.shotAgain = false;
    shot(n);
  }
}

// -- node cards -----------------------------------------------------------------------------

function put(data) {
  let n = nodes.get(data.name);
  if (!n) {
    n = { shots: 0, history: true };
    n.card = card(data.name, n);
    nodes.set(data.name, n);
    const after = [...nodes.keys()].filter((k) => k > data.name).sort()[0];
    $("#nodes").insertBefore(n.card, after ? nodes.get(after).card : null);
    n.data = data;
    shot(n);
  }
  const back = n.data && n.data.error && !data.error;
  n.data = data;
  n.at = performance.now();
  update(n);
  if (back) shot(n);
  if (n.history && data.mode === "scoreboard") {
    n.history = false;
    loadHistory(data.name);
  }
}

function card(name, n) {
  const img = h("img", { class: "thumb", alt: `screen of ${name}`, width: 320, height: 180 });
  img.addEventListener("load", () => shotDone(n));
  img.addEventListener("error", () => shotDone(n));
  const modeSel = h("select", { class: "mode", "aria-label": `mode of ${name}`,
    onchange: (e) => act(name, "switch", [e.target.value]) });
  const egg = h("input", { type: "checkbox", class: "egg-box",
    onchange: (e) => act(name, e.target.checked ? "easter_egg.enable" : "easter_egg.disable") });
  const cmd = h("input", { placeholder: "command", "aria-label": `command for ${name}`,
    autocapitalize: "none", spellcheck: "false", list: "cmd-list", onfocus: loadCommands });
  const ws = h("input", { placeholder: "words", "aria-label": `words for ${name}`,
    autocapitalize: "none" });
  return h("article", { class: "card", id: `node-${name}`, "data-node": name },
    h("header", {},
      h("h2", { text: name }),
      h("span", { class: "groups" }),
      h("span", { class: "badge", text: "WINNER" }),
      modeSel),
    h("p", { class: "shows" }),
    h("p", { class: "problems" }),
    img,
    h("p", { class: "msg", role: "status" }),
    h("div", { class: "body" }),
    h("div", { class: "row foot" },
      h("label", { class: "egg" }, egg, " Easter egg"),
      h("details", { class: "more" }, h("summary", { text: "Command" }),
        h("form", { class: "row", onsubmit: (e) => {
          e.preventDefault();
          const c = cmd.value.trim();
          if (c) act(name, c, words(ws.value), (r) => say($(".msg", n.card), `${c}: ${show(r)}`));
        } }, cmd, ws, h("button", { text: "Run" })))));
}

function update(n) {
  const d = n.data;
  const c = n.card;
  c.classList.toggle("down", !!d.error);
  $(".groups", c).textContent = (d.groups || []).map((g) => "@" + g).join(" ");
  const join = (d.state || {}).join;
  $(".shows", c).textContent = d.error ? `not answering: ${d.error}`
    : (d.shows || "") + (join && join.shown ? " · showing the join QR" : "");
  $(".problems", c).textContent = (d.problems || []).join(" · ");
  const modeSel = $(".mode", c);
  const modes = d.modes || [];
  if (modeSel.options.length !== modes.length || modes.some((m, i) => modeSel.options[i].value !== m))
    modeSel.replaceChildren(...modes.map((m) => h("option", { value: m, text: m })));
  if (d.mode && !n.acting) modeSel.value = d.mode;
  modeSel.disabled = !d.mode;
  const egg = (d.state || {}).easter_egg;
  $(".egg", c).hidden = !egg;
  if (egg && !n.acting) $(".egg-box", c).checked = !!egg.enabled;
  if (n.mode !== d.mode) {
    n.mode = d.mode;
    const make = PANELS[d.mode];
    $(".body", c).replaceChildren(make ? make(d.name, n) : h("div"));
    if (d.mode === "scoreboard") n.history = true;
  }
  const fill = FILL[d.mode];
  if (fill) fill(n, (d.state || {})[d.mode] || {});
  c.classList.toggle("winner", won(d.name));
  ticker();
}

const btn = (text, onclick, attrs = {}) => h("button", { type: "button", onclick, ...attrs, text });

const PANELS = {
  scoreboard(name, n) {
    const set = h("input", { type: "number", class: "set-box", "aria-label": `score of ${name}`,
      inputmode: "numeric", placeholder: "score" });
    const team = h("input", { class: "team-box", maxlength: 24, "aria-label": `team of ${name}` });
    const file = h("input", { type: "file", accept: "image/png", class: "bg-file", hidden: true,
      onchange: () => file.files[0] && upload(name, file) });
    return h("div", { class: "scoreboard" },
      h("div", { class: "big" }, h("span", { class: "team" }), h("span", { class: "score" })),
      h("div", { class: "adds" }, ...[1, 5, 10, -1].map((d) =>
        btn(signed(d), () => act(name, "scoreboard.add_points", [d], (r) => showScore(n, r)),
          { "data-delta": d, "aria-label": `${signed(d)} points for ${name}` }))),
      h("form", { class: "row", onsubmit: (e) => {
        e.preventDefault();
        if (set.value !== "") act(name, "scoreboard.set_score", [set.value], (r) => showScore(n, r));
      } }, set, h("button", { class: "set", text: "Set score" })),
      h("form", { class: "row", onsubmit: (e) => {
        e.preventDefault();
        if (team.value.trim()) act(name, "scoreboard.set_team", [team.value.trim()]);
      } }, team, h("button", { class: "rename", text: "Rename" })),
      h("div", { class: "row" },
        h("label", {}, "Title ", h("input", { type: "color", class: "title-color",
          onchange: (e) => act(name, "scoreboard.set_title_color", [rgb(e.target.value)]) })),
        h("label", { class: "button", tabindex: 0, role: "button",
          onkeydown: (e) => (e.key === "Enter" || e.key === " ") && file.click() }, "Background…", file),
        btn("Built-in", () => unupload(name), { class: "bg-reset", "aria-label": "built-in background" })),
      h("div", { class: "row" }, btn("Undo", () => act(name, "scoreboard.undo", [],
        (r) => showScore(n, r)), { class: "undo", disabled: true })),
      h("ol", { class: "history", "aria-label": `last score changes of ${name}` }));
  },
  timer(name) {
    const secs = h("input", { type: "number", min: "0.1", step: "any", value: 60, class: "secs",
      "aria-label": `countdown seconds for ${name}` });
    return h("div", { class: "timer" },
      h("div", { class: "big" }, h("span", { class: "title" }), h("span", { class: "time" })),
      h("p", { class: "place help" }),
      h("div", { class: "three" },
        btn("Start", () => act(name, "timer.start"), { class: "go start" }),
        btn("Stop", () => act(name, "timer.stop"), { class: "stop" }),
        btn("Reset", () => act(name, "timer.reset"), { class: "reset" })),
      h("form", { class: "row", onsubmit: (e) => {
        e.preventDefault();
        act(name, "timer.countdown", [secs.value]);
      } }, secs, h("span", { text: "s" }), h("button", { class: "countdown", text: "Count down" })));
  },
  colorsquare(name) {
    return h("div", { class: "colorsquare" },
      h("div", { class: "row" },
        h("input", { type: "color", class: "color", "aria-label": `colour of ${name}`,
          onchange: (e) => act(name, "colorsquare.set_color", [rgb(e.target.value)]) }),
        h("span", { class: "cname" })),
      h("div", { class: "swatches" }, ...COLOURS.map((c) =>
        btn(c, () => act(name, "colorsquare.set_color", [c]), { style: `--c:${c}`,
          "data-color": c }))));
  },
};

const FILL = {
  scoreboard(n, s) {
    const c = n.card;
    if (s.team != null) $(".team", c).textContent = s.team;
    if (s.score != null) showScore(n, s.score);
    if (s.team != null) $(".team-box", c).placeholder = s.team;
    if (s.title_color) $(".title-color", c).value = hex(s.title_color);
  },
  timer(n, s) {
    const c = n.card;
    $(".title", c).textContent = s.title || "";
    $(".place", c).textContent = s.place ? (s.place === 1 ? "WINNER" : `place ${s.place}`)
      : s.armed ? "armed: waiting for the start" : s.countdown ? `countdown of ${s.countdown} s` : "";
    tickOne(n);
  },
  colorsquare(n, s) {
    const c = n.card;
    if (s.color) $(".color", c).value = hex(s.color);
    $(".cname", c).textContent = s.name || "";
  },
};

function showScore(n, score) {
  if (typeof score === "number") $(".score", n.card).textContent = score;
}

// timers run on the nodes; the page only moves the digits between two readings.
function tickOne(n) {
  const s = ((n.data || {}).state || {}).timer;
  const el = $(".time", n.card);
  if (!s || !el) return false;
  if (!s.running) {
    el.textContent = s.shown ?? clock(s.elapsed || 0, true);
    return false;
  }
  const e = s.elapsed + (performance.now() - n.at) / 1000;
  el.textContent = clock(s.countdown ? s.countdown - e : e, false);
  return true;
}

function ticker() {
  const any = [...nodes.values()].some((n) => n.mode === "timer" && n.data.state?.timer?.running);
  if (any && !ticking) {
    ticking = setInterval(() => {
      let still = false;
      for (const n of nodes.values()) if (n.mode === "timer") still = tickOne(n) || still;
      if (!still) ticker();
    }, 100);
  } else if (!any && ticking) {
    clearInterval(ticking);
    ticking = null;
  }
}

async function loadHistory(name) {
  const n = nodes.get(name);
  let list;
  try {
    list = (await call(name, "scoreboard.history", ["5"])).result || [];
  } catch {
    return;
  }
  if (!n || n.mode !== "scoreboard") return;
  const undo = $(".undo", n.card);
  const last = list.find((e) => !e.undone && e.source !== "undo");
  undo.disabled = !last;
  undo.textContent = last ? `Undo ${signed(last.delta)} (${last.source}, ${hhmm(last)})` : "Undo";
  $(".history", n.card).replaceChildren(...list.map((e) => h("li", { class: e.undone ? "undone" : "" },
    `${hhmm(e)} ${signed(e.delta)} → ${e.score} · ${e.source === "undo" ? "undo by " + (e.by || "?") : e.source}`)));
}

async function upload(name, input) {
  const form = new FormData();
  form.append("file", input.files[0]);
  const n = nodes.get(name);
  try {
    const r = await api("PUT", `/api/nodes/${enc(name)}/background`, form);
    say($(".msg", n.card), `background: ${r.result}`);
  } catch (e) {
    say($(".msg", n.card), `background: ${e.message}`, true);
  }
  input.value = "";
}

async function unupload(name) {
  const n = nodes.get(name);
  try {
    await api("DELETE", `/api/nodes/${enc(name)}/background`);
    say($(".msg", n.card), "background: built-in");
  } catch (e) {
    say($(".msg", n.card), `background: ${e.message}`, true);
  }
}

// -- the race -------------------------------------------------------------------------------

function renderRace(r) {
  if (!r) return;
  race = r;
  const live = r.state === "arming" || r.state === "running";
  $("#race-start").disabled = live;
  $("#race-cancel").disabled = !live;
  const lanes = Object.entries(r.lanes || {}).map(([node, l]) => ({ node, ...l }));
  lanes.sort((a, b) => (a.place ?? 1e9) - (b.place ?? 1e9) || a.node.localeCompare(b.node));
  const label = {
    idle: "no race yet", arming: "getting the screens ready…", running: "running: press the buttons!",
    finished: r.winner ? `finished: ${r.winner} won` : "finished", cancelled: "called off",
    failed: `failed: ${r.error || "?"}`,
  };
  const state = $("#race-state");
  state.textContent = (label[r.state] || r.state) + (r.started_local ? ` (started ${r.started_local}, ${r.selector})` : "");
  state.className = "help race-" + r.state;
  $("#race-ranking").replaceChildren(...lanes.map((l) => h("li", {
    class: l.node === r.winner ? "winner" : "", "data-node": l.node },
    h("span", { class: "place", text: l.place ? `${l.place}.` : "–" }),
    h("span", { class: "who", text: l.title && l.title !== l.node ? `${l.title} (${l.node})` : l.node }),
    h("span", { class: "el", text: l.elapsed != null ? `${clock(l.elapsed, true)} s` : live ? "…" : "" }),
    l.node === r.winner ? h("strong", { class: "badge on", text: "WINNER" }) : null)),
  ...Object.entries(r.left || {}).map(([node, why]) => h("li", { class: "left", "data-node": node },
    h("span", { class: "place", text: "✗" }), h("span", { class: "who", text: `${node}: ${why}` }))));
  for (const [name, n] of nodes) n.card.classList.toggle("winner", won(name));
}

const won = (name) => !!race && race.winner === name && ["running", "finished"].includes(race.state);

// -- live events ----------------------------------------------------------------------------

function banner(text, kind) {
  const b = $("#banner");
  b.textContent = text;
  b.className = "banner " + (kind || "");
  b.hidden = !text;
  clearTimeout(b._t);
  if (kind === "ok") b._t = setTimeout(() => (b.hidden = true), 3000);
  $("#conn").textContent = kind === "off" ? "offline" : "live";
  $("#conn").className = "conn " + (kind === "off" ? "off" : "on");
}

function connect() {
  const es = new EventSource("/api/events" + (lastId ? "?since=" + enc(lastId) : ""));
  source = es;
  es.addEventListener("hello", (e) => {
    const d = JSON.parse(e.data);
    clearTimeout(revive);
    revive = null;
    if (!loaded || d.missed || !d.resumed) reload(); // else the stream replays what we missed
    loaded = true;
    if (offline) banner("back online", "ok");
    else banner("", "on");
    offline = false;
    if (d.listening === false) $("#conn").textContent = "no live updates (name server?)";
  });
  es.addEventListener("record", (e) => {
    if (e.lastEventId) lastId = e.lastEventId;
    const r = JSON.parse(e.data);
    if (r.name === "screen_changed") screenChanged(r.node);
    else refresh(r.node, r.name === "score_changed");
  });
  es.addEventListener("race", (e) => {
    if (e.lastEventId) lastId = e.lastEventId;
    renderRace(JSON.parse(e.data));
  });
  es.onerror = () => {
    if (source !== es) return;
    if (!offline) banner("offline — reconnecting…", "off");
    offline = true;
    if (es.readyState === EventSource.CLOSED) { // refused (401, 5xx): the browser gave up
      es.close();
      clearTimeout(revive);
      revive = setTimeout(start, 3000);
    } else if (!revive) { // it retries by itself, but may back off for long: start afresh then
      revive = setTimeout(() => {
        revive = null;
        if (source === es && offline) {
          es.close();
          start();
        }
      }, REVIVE_MS);
    }
  };
}

async function start() {
  clearTimeout(revive); // this is the fresh start it was waiting for
  revive = null;
  try {
    info = await api("GET", "/api/info", undefined, 5000);
  } catch (e) {
    banner("offline — reconnecting…", "off");
    offline = true;
    return void (revive = setTimeout(start, 3000));
  }
  if (info.auth && !info.authenticated) return askToken();
  $("#share-url").textContent = $("#share-url").href = info.share_url || location.href;
  connect();
}

function askToken() {
  if (source) source.close();
  source = null;
  $("#login").hidden = false;
  $("#app").hidden = true;
  $("#token").focus();
}

// -- the controls outside the cards ---------------------------------------------------------

function wire() {
  $("#login").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/api/session", { token: $("#token").value });
      location.reload();
    } catch (err) {
      say($("#login-msg"), err.status === 401 ? "that token is not right" : err.message, true);
    }
  });
  $("#race-start").addEventListener("click", async () => {
    const r = await together("POST", "/api/race",
      { selector: sel(), start_in: Number($("#race-in").value) || 3 }, "race");
    if (r && r.state) {
      say($("#group-msg"), "");
      renderRace(r);
    }
  });
  $("#race-cancel").addEventListener("click", async () => {
    const r = await together("DELETE", "/api/race", undefined, "race");
    if (r && r.state) renderRace(r);
  });
  $("#bc-send").addEventListener("click", () => {
    const command = $("#bc-cmd").value.trim();
    if (command) together("POST", "/api/call",
      { selector: sel(), command, words: words($("#bc-words").value) }, command);
  });
  $("#bc-cmd").addEventListener("focus", loadCommands);
  $("#preset-apply").addEventListener("click", () => {
    const p = $("#preset").value;
    if (p) together("POST", `/api/presets/${enc(p)}/apply`, { selector: sel() }, `preset ${p}`);
  });
  $("#preset-save").addEventListener("click", async () => {
    const name = $("#preset-name").value.trim();
    if (!name) return say($("#group-msg"), "give the preset a name", true);
    const body = { name, selector: sel(), force: false };
    try {
      const r = await api("POST", "/api/presets", body);
      say($("#group-msg"), `saved preset ${r.name}: ${r.nodes.join(", ")}`);
    } catch (e) {
      if (e.status !== 409 || !confirm(`${e.message}\nReplace it?`))
        return say($("#group-msg"), `preset: ${e.message}`, e.status !== 409);
      await together("POST", "/api/presets", { ...body, force: true }, `preset ${name}`);
    }
    loadPresets(name);
  });
  $("#share-btn").addEventListener("click", () => {
    if (!$("#qr").src) $("#qr").src = "/api/qr.svg";
    $("#qr-sel").value = sel();
    $("#share").showModal();
  });
  for (const [id, command] of [["#qr-show", "join.show"], ["#qr-hide", "join.hide"]]) {
    $(id).addEventListener("click", async () => {
      try {
        const r = await api("POST", "/api/call", { selector: $("#qr-sel").value.trim() || "all", command });
        say($("#share-msg"), summarize(r.results));
      } catch (e) {
        say($("#share-msg"), e.message, true);
      }
    });
  }
}

let commandsLoaded = false;
async function loadCommands() {
  const first = nodes.keys().next().value;
  if (!first || commandsLoaded) return;
  commandsLoaded = true;
  try {
    const all = await api("GET", `/api/nodes/${enc(first)}/commands`);
    $("#cmd-list").replaceChildren(...["switch", "press", "ring", ...Object.keys(all)].map((c) =>
      h("option", { value: c })));
  } catch {}
}

wire();
start();
