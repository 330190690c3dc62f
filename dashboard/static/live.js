// SpineCoach dashboard: the station grid, live. Every change arrives as a Server-Sent Event
// (/events); a card is filled with textContent only (never HTML from a station). A safety
// stop or a pain flag raises an alert with the alarm sound until a therapist dismisses it.
"use strict";

const cards = new Map();   // station -> card element
const latest = new Map();  // station -> newest status
const alerted = new Map(); // station -> alert key already raised
let clockOffset = 0;       // server clock minus this browser's
let staleAfter = 15;
let soundOn = false;
window.scStats = { events: 0, alerts: 0, soundsPlayed: 0, lastEvent: null };

function card(name) {
  let el = cards.get(name) || document.querySelector(`article.station[data-station="${CSS.escape(name)}"]`);
  if (!el || !el.querySelector(".patient")) {
    const fresh = document.getElementById("station-card").content.firstElementChild.cloneNode(true);
    fresh.dataset.station = name;
    if (el) el.replaceWith(fresh); else document.getElementById("grid").appendChild(fresh);
    el = fresh;
    const empty = document.getElementById("no-stations");
    if (empty) empty.remove();
  }
  cards.set(name, el);
  return el;
}

function set(el, cls, text) { el.querySelector("." + cls).textContent = text; }

function render(s) {
  const el = card(s.station);
  const idle = s.phase === "idle";
  const between = s.phase === "visit";  // a visit's pain scale, rest or summary: no set runs
  set(el, "name", s.station);
  set(el, "patient", idle ? "nobody signed in" : "Patient " + s.patient_code);
  set(el, "exercise", s.exercise_id.replaceAll("_", " "));
  set(el, "phase", s.safety_stop ? "STOPPED: " + (s.safety_kind || "safety").replaceAll("_", " ") : s.phase);
  set(el, "reps", idle || between ? "" : `set ${s.set_index}/${s.sets_total}  rep ${s.rep_count}/${s.reps_target}`);
  set(el, "cue", s.cue_text);
  set(el, "sources", `camera ${s.camera_state} · machine ${s.machine_state}` +
      (s.storage_state !== "ok" ? ` · storage ${s.storage_state}` : ""));
  set(el, "flags", s.pain_flag ? "pain flagged" : "");
  el.classList.toggle("idle", idle);
  el.classList.toggle("stopped", s.safety_stop);
  el.classList.toggle("warn", s.cue_severity === "warning" || s.cue_severity === "fault");
  el.dataset.seq = s.seq;
  el.dataset.phase = s.phase;
  el.dataset.reps = s.rep_count;
  checkAlert(s);
}

function checkAlert(s) {
  const key = s.safety_stop ? "stop:" + s.safety_kind : s.pain_flag ? "pain" : "";
  if (!key) { alerted.delete(s.station); return; }
  if (alerted.get(s.station) === key) return;
  alerted.set(s.station, key);
  const box = document.createElement("div");
  box.className = "alert";
  box.dataset.station = s.station;
  const text = document.createElement("span");
  text.textContent = s.safety_stop
    ? `${s.station}: safety stop (${(s.safety_kind || "safety").replaceAll("_", " ")}), patient ${s.patient_code}`
    : `${s.station}: patient ${s.patient_code} reports more pain`;
  const ok = document.createElement("button");
  ok.type = "button";
  ok.textContent = "Seen";
  ok.addEventListener("click", () => box.remove());
  box.append(text, ok);
  document.getElementById("alerts").prepend(box);
  window.scStats.alerts += 1;
  playAlarm();
}

function playAlarm() {
  const audio = document.getElementById("alert-sound");
  audio.currentTime = 0;
  audio.play().then(() => { window.scStats.soundsPlayed += 1; soundOn = true; showSound(); })
    .catch(() => { soundOn = false; showSound(); });
}

function showSound() {
  const b = document.getElementById("sound");
  b.textContent = soundOn ? "Sound on" : "Sound off: click to allow alarms";
  b.classList.toggle("bad", !soundOn);
}

function markStale() {
  const now = Date.now() / 1000 + clockOffset;
  for (const [name, s] of latest) {
    const el = cards.get(name);
    if (el) el.classList.toggle("offline", now - s.published_unix > staleAfter);
  }
}

function connect() {
  const source = new EventSource("/events");
  const link = document.getElementById("link");
  source.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    clockOffset = ev.server_unix - Date.now() / 1000;
    staleAfter = ev.stale_after_s;
    link.textContent = ev.link_ok ? "live" : "database out of reach";
    link.className = "link " + (ev.link_ok ? "ok" : "bad");
    for (const s of ev.stations) {
      const old = latest.get(s.station);
      if (old && old.published_unix > s.published_unix) continue; // an older message
      latest.set(s.station, s);
      render(s);
      window.scStats.lastEvent = { station: s.station, seq: s.seq,
        published_unix: s.published_unix, received_unix: Date.now() / 1000 + clockOffset };
    }
    window.scStats.events += 1;
  };
  source.onerror = () => { link.textContent = "reconnecting..."; link.className = "link bad"; };
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sound").addEventListener("click", () => {
    const audio = document.getElementById("alert-sound");
    audio.muted = true;  // a click allows sound from now on; this one stays silent
    audio.play().then(() => { audio.pause(); audio.muted = false; soundOn = true; showSound(); })
      .catch(() => { audio.muted = false; });
  });
  connect();
  setInterval(markStale, 1000);
});
