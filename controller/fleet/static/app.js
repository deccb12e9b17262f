// treadguard dashboard: the page's only script (served from the package; no CDN).
// Everything shown comes from the board (GET /api/board, then Server-Sent Events from
// /api/live) and is written with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const page = {
  me: null,            // {user, role, csrf}
  link: null,          // the dashboard's broker link, from the first board on
  staleAfter: 10,
  tiles: new Map(),    // key -> {data, at: performance.now() when data.age_s was measured}
  events: [],
  source: null,
};

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": "application/json",
              "X-CSRF-Token": page.me ? page.me.csrf : ""},
    body: JSON.stringify(body),
  };
  const reply = await fetch(path, {credentials: "same-origin", cache: "no-store", ...init});
  let data = {};
  try { data = await reply.json(); } catch (e) { data = {error: "no answer from the dashboard"}; }
  return {status: reply.status, data};
}

function showSignIn(message) {
  page.me = null;
  if (page.source) { page.source.close(); page.source = null; }
  $("board").hidden = true;
  $("who").hidden = true;
  $("link").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
}

function showBoard(me) {
  page.me = me;
  document.body.dataset.role = me.role;
  $("signin").hidden = true;
  $("board").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = me.user;
  $("who-role").textContent = me.role;
  connectLive();
}

function connectLive() {
  if (page.source) page.source.close();
  const source = new EventSource("/api/live");
  page.source = source;
  source.addEventListener("board", (e) => applyBoard(JSON.parse(e.data)));
  source.addEventListener("tile", (e) => { setTile(JSON.parse(e.data)); renderEmpty(); });
  source.addEventListener("event", (e) => addEvent(JSON.parse(e.data)));
  source.addEventListener("link", (e) => { page.link = {...page.link, ...JSON.parse(e.data)};
                                           renderLink(); renderAll(); });
  source.onopen = () => { page.pageLost = false; renderLink(); };
  source.onerror = async () => {
    page.pageLost = true;
    renderLink();
    const me = await api("/api/me").catch(() => null);
    if (me && me.status === 401) showSignIn("Your sign-in has ended: sign in again.");
  };
}

function applyBoard(board) {
  page.staleAfter = board.stale_after_s;
  page.link = {connected: board.connected, broker: board.broker,
               disconnected_since: board.disconnected_since,
               messages: board.messages, malformed: board.malformed};
  const keys = new Set(board.tiles.map((t) => t.key));
  for (const key of [...page.tiles.keys()]) {
    if (!keys.has(key)) { page.tiles.get(key).el.remove(); page.tiles.delete(key); }
  }
  for (const tile of board.tiles) setTile(tile);
  page.events = board.events.slice();
  renderEvents();
  renderLink();
  renderEmpty();
}

function renderEmpty() { $("no-tiles").hidden = page.tiles.size > 0; }

function renderLink() {
  const banner = $("link");
  if (page.pageLost) {
    banner.hidden = false;
    banner.textContent = "This page lost the dashboard: reconnecting… What you see may be old.";
  } else if (page.link && !page.link.connected) {
    banner.hidden = false;
    banner.textContent = "Dashboard disconnected from broker" +
      (page.link.disconnected_since ? " since " + clock(page.link.disconnected_since) : "") +
      ": the tiles show the last known state. Reconnecting…";
  } else {
    banner.hidden = true;
  }
}

function setTile(data) {
  let entry = page.tiles.get(data.key);
  if (!entry) {
    const el = $("tile-template").content.firstElementChild.cloneNode(true);
    el.dataset.key = data.key;
    el.querySelector(".stop-button").addEventListener("click", () => askStop(data.key));
    entry = {el, data};
    page.tiles.set(data.key, entry);
    const siblings = [...$("tiles").children];
    const after = siblings.find((s) => s.dataset.key > data.key);
    $("tiles").insertBefore(el, after || null);
  }
  entry.data = data;
  entry.at = performance.now();
  renderTile(entry);
}

function num(v, digits) { return typeof v === "number" ? v.toFixed(digits) : "—"; }

function duration(s) {
  if (typeof s !== "number") return "—";
  const m = Math.floor(s / 60), sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m}:${String(sec).padStart(2, "0")}`;
}

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleTimeString([], {hour12: false});
}

function ageNow(entry) {
  if (typeof entry.data.age_s !== "number") return null;
  return entry.data.age_s + (performance.now() - entry.at) / 1000;
}

function renderTile(entry) {
  const {el, data} = entry;
  const s = data.status || {};
  const age = ageNow(entry);
  const stale = age === null || age > page.staleAfter;
  const state = s.state || "no status";
  const linkDown = page.link !== null && !page.link.connected;
  el.dataset.state = state;
  el.dataset.online = linkDown ? "unknown" :
    data.online === true ? "yes" : data.online === false ? "no" : "unknown";
  el.dataset.stale = stale ? "yes" : "no";
  el.dataset.link = linkDown ? "down" : "up";
  el.querySelector(".name").textContent = data.treadmill;
  el.querySelector(".name").title = data.site;
  // With the dashboard cut off from the broker, nothing it last heard is current.
  el.querySelector(".online").textContent = linkDown ? "online ?" :
    data.online === true ? "online" : data.online === false ? "OFFLINE" : "online ?";
  const button = el.querySelector(".stop-button");
  button.disabled = linkDown;
  button.title = linkDown ? "the dashboard is disconnected from the broker: use the " +
    "treadmill's own stop" : "";
  el.querySelector(".state").textContent = state.toUpperCase();
  const alarm = [];
  if ((state === "latched" || state === "stopping") && s.reason && s.reason !== "None") {
    alarm.push("stopped: " + s.reason + (s.power_cut ? " (power cut)" : ""));
  }
  // The detectors' level ("ok", "caution", "stop") and why; the other levels are figures.
  const levels = s.levels && typeof s.levels === "object" ? s.levels : {};
  if (typeof levels.imu === "string" && levels.imu !== "ok") {
    alarm.push(levels.imu + (levels.imu_reason ? ": " + levels.imu_reason : ""));
  }
  el.querySelector(".alarm").textContent = alarm.join(" · ");
  // The runner, their profile and the program's phase; no runner: "—" (a phase of "idle"
  // alone would read as a runner's name).
  el.querySelector(".runner").textContent =
    s.runner ? [s.runner, s.profile, s.phase].filter((x) => x).join(" · ") : "—";
  el.querySelector(".speed").textContent =
    `${num(s.commanded_kmh, 1)} set · ${num(s.actual_kmh, 1)} belt km/h`;
  el.querySelector(".session").textContent =
    typeof s.session_s === "number" ? duration(s.session_s + (age || 0)) : "—";
  el.querySelector(".cautions").textContent =
    s.cautions === null || s.cautions === undefined ? "—" :
      typeof s.cautions === "object" ? JSON.stringify(s.cautions) : String(s.cautions);
  let ageText;
  if (linkDown) ageText = "dashboard disconnected from broker";
  else if (age === null) ageText = "no status yet";
  else if (stale) ageText = `STALE: no status for ${Math.round(age)} s`;
  else ageText = `updated ${Math.round(age)} s ago`;
  el.querySelector(".age").textContent = ageText;
  if (data.last_stop && !el.querySelector(".result").dataset.local) {
    el.querySelector(".result").textContent =
      `stop sent by ${data.last_stop.by} at ${clock(data.last_stop.wall)}`;
  }
}

function renderAll() { for (const entry of page.tiles.values()) renderTile(entry); }

function addEvent(event) {
  page.events.unshift(event);
  if (page.events.length > 500) page.events.length = 500;
  renderEvents();
}

function renderEvents() {
  const body = $("events").tBodies[0];
  const rows = page.events.slice(0, 200).map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.kind = e.kind;
    for (const text of [clock(e.wall), e.key, e.kind, e.message]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  });
  body.replaceChildren(...rows);
}

// The treadmill the open confirmation is about; cleared when it closes, so one confirmation
// sends at most one stop, and only for the treadmill it named.
let confirming = null;

function askStop(key) {
  const entry = page.tiles.get(key);
  confirming = key;
  $("confirm-name").textContent = `${entry.data.treadmill} (${entry.data.site})`;
  $("confirm").showModal();
  $("confirm-cancel").focus();
}

function confirmStop() {
  const key = confirming;
  confirming = null;
  $("confirm").close();
  if (key !== null) sendStop(key);
}

async function sendStop(key) {
  const entry = page.tiles.get(key);
  const result = entry.el.querySelector(".result");
  result.dataset.local = "1";
  result.textContent = "sending stop…";
  const {status, data} = await api("/api/stop", {site: entry.data.site,
    treadmill: entry.data.treadmill, confirm: true});
  result.textContent = status === 202 ? `stop sent by ${data.by}` : `refused: ${data.error}`;
  result.dataset.outcome = status === 202 ? "sent" : "refused";
  if (status === 202) delete result.dataset.local;  // the broker's echo may now replace it
}

document.addEventListener("DOMContentLoaded", async () => {
  $("confirm-stop").addEventListener("click", confirmStop);
  $("confirm-cancel").addEventListener("click", () => { confirming = null;
                                                        $("confirm").close(); });
  $("confirm").addEventListener("cancel", () => { confirming = null; });  // Escape
  $("signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("signin-error").textContent = "signing in…";
    const {status, data} = await api("/api/login",
      {user: $("user").value, password: $("password").value});
    $("password").value = "";
    if (status === 200) showBoard(data); else showSignIn(data.error || "sign-in failed");
  });
  $("signout").addEventListener("click", async () => {
    await api("/api/logout", {});
    showSignIn("Signed out.");
  });
  setInterval(renderAll, 1000);
  const me = await api("/api/me");
  if (me.status === 200) showBoard(me.data); else showSignIn("");
});
