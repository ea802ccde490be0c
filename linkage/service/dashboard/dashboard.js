// The staff dashboard: reads the service's API with the token typed into the page (kept in
// this tab's sessionStorage only, sent as a bearer header, never in a URL). Everything shown
// is put in as text, never as HTML, so no value from the service can become markup.
"use strict";

const TOKEN_KEY = "linkage-staff-token";
const CHARTS = ["active", "inflow", "outflow", "reliability", "coverage", "overlap"];
const chartUrls = {};

function $(id) { return document.getElementById(id); }

function say(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

async function call(method, path, body) {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let reason = response.status + " " + response.statusText;
    try { reason = (await response.json()).detail || reason; } catch (e) { /* not JSON */ }
    if (response.status === 401 || response.status === 403) { signOut(); }
    throw new Error(reason);
  }
  return response;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) { td.className = className; }
  row.appendChild(td);
  return td;
}

function count(value) { return value === null || value === undefined ? "*" : value.toLocaleString(); }

function estimated(guess) {
  if (!guess) { return "-"; }
  const level = Math.round(guess.level * 100);
  return `${count(guess.estimate)} (${level}%: ${count(guess.low)}–${count(guess.high)})`;
}

function headline(data) {
  const list = $("headline");
  list.replaceChildren();
  const month = data.latest_month;
  const all = month ? data.figures[month].all : {};
  const verdict = month ? data.reliable[month] : null;
  const items = [
    ["Month", month || "none yet"],
    ["Actively homeless", count(all.active)],
    ["Estimated from the links", estimated(month ? data.active_estimates[month] : null)],
    ["Inflow", count(all.inflow)],
    ["Outflow", count(all.outflow)],
    ["Reliable", verdict === null ? "-" : (verdict ? "yes" : "no")],
    ["Reliable months in a row", count(data.reliable_streak)],
    ["Quality by-name list", data.quality_list === null ? "-" : (data.quality_list ? "yes" : "not yet")],
    ["Pairs to review", count(data.review_pending)],
  ];
  for (const [label, value] of items) {
    const box = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = value;
    box.append(dt, dd);
    list.appendChild(box);
  }
}

function agencies(data) {
  const body = $("agencies").tBodies[0];
  body.replaceChildren();
  for (const a of data.agencies) {
    const row = body.insertRow();
    const late = data.latest_month && a.last_upload_month !== data.latest_month;
    row.classList.toggle("late", Boolean(late));
    cell(row, a.agency);
    cell(row, a.last_upload_month
      ? a.last_upload_month + (late ? " (missed " + data.latest_month + ")" : "")
      : "never");
    cell(row, a.days_since_upload === null ? "-" : a.days_since_upload + " days ago");
    cell(row, String(a.uploads_waiting), "number");
    cell(row, count(a.records), "number");
    cell(row, count(a.active_known), "number");
    cell(row, a.share === null ? "*" : Math.round(a.share * 100) + "%", "number");
  }
}

async function charts() {
  await Promise.all(CHARTS.map(async (name) => {
    const blob = await (await call("GET", "/v1/dashboard/charts/" + name + ".svg")).blob();
    if (chartUrls[name]) { URL.revokeObjectURL(chartUrls[name]); }
    chartUrls[name] = URL.createObjectURL(blob);
    $("chart-" + name).src = chartUrls[name];
  }));
}

async function reviewQueue() {
  const pairs = await (await call("GET", "/v1/review")).json();
  const body = $("review").tBodies[0];
  body.replaceChildren();
  $("review-empty").hidden = pairs.length > 0;
  for (const pair of pairs) {
    const row = body.insertRow();
    row.dataset.pair = pair.id;
    cell(row, String(pair.id));
    cell(row, pair.agency_a + " / " + pair.agency_b);
    cell(row, pair.score.toFixed(3), "number");
    cell(row, pair.why);
    const note = document.createElement("input");
    note.maxLength = 500;
    note.setAttribute("aria-label", "note on pair " + pair.id);
    cell(row, "").appendChild(note);
    const actions = cell(row, "");
    for (const [ruling, label] of [["same", "Same person"], ["never", "Never the same"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.ruling = ruling;
      button.addEventListener("click", () => rule(pair.id, ruling, note.value));
      actions.appendChild(button);
    }
  }
}

async function waitingUploads() {
  const received = await (await call("GET", "/v1/uploads")).json();
  const waiting = received.filter((u) => u.state === "waiting");
  const body = $("waiting").tBodies[0];
  body.replaceChildren();
  $("waiting-empty").hidden = waiting.length > 0;
  for (const upload of waiting) {
    const row = body.insertRow();
    row.dataset.upload = upload.id;
    cell(row, String(upload.id));
    cell(row, upload.agency);
    cell(row, upload.month);
    cell(row, upload.size.toLocaleString(), "number");
    cell(row, upload.received_at.slice(0, 16).replace("T", " "));
    const reason = document.createElement("input");
    reason.maxLength = 500;
    reason.setAttribute("aria-label", "reason for discarding upload " + upload.id);
    cell(row, "").appendChild(reason);
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Discard";
    button.addEventListener("click", () => discard(upload.id, reason.value));
    cell(row, "").appendChild(button);
  }
}

async function discard(uploadId, reason) {
  try {
    await call("POST", "/v1/uploads/" + uploadId + "/discard", { reason });
  } catch (err) {
    say("upload " + uploadId + ": " + err.message, true);
    return;
  }
  try {
    await refresh();
    say("upload " + uploadId + ": discarded");
  } catch (err) {
    say("upload " + uploadId + ": discarded; the page could not reload: " + err.message, true);
  }
}

async function rule(pairId, ruling, note) {
  let what;
  try {
    const done = await (await call("POST", "/v1/review/" + pairId, { ruling, note })).json();
    what = done.merged ? "merged two people"
      : done.split_into ? "split a person (" + done.split_into + " new)"
      : ruling === "same" ? "already one person" : "kept apart";
  } catch (err) {
    say("pair " + pairId + ": " + err.message, true);
    return;
  }
  try {
    await refresh();
    say("pair " + pairId + ": " + what);
  } catch (err) {
    say("pair " + pairId + ": " + what + "; the page could not reload: " + err.message, true);
  }
}

async function ingest(event) {
  event.preventDefault();
  const month = $("ingest-month").value;
  try {
    let job = await (await call("POST", "/v1/months/" + month + "/ingest")).json();
    while (job.state === "queued" || job.state === "running") {
      say("ingest of " + month + ": " + job.state + (job.progress ? ", " + job.progress : ""));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      job = await (await call("GET", "/v1/jobs/" + job.id)).json();
    }
    await refresh();
    say("ingest of " + month + ": " + job.state + (job.error ? ": " + job.error : ""), job.state !== "done");
  } catch (err) {
    say("ingest of " + month + ": " + err.message, true);
  }
}

async function refresh() {
  const data = await (await call("GET", "/v1/dashboard")).json();
  headline(data);
  agencies(data);
  await Promise.all([charts(), reviewQueue(), waitingUploads()]);
  document.body.dataset.loaded = data.latest_month || "empty";
}

async function open() {
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("board").hidden = false;
  say("loading...");
  try {
    await refresh();
    say("");
  } catch (err) {
    say(err.message, true);
  }
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  $("board").hidden = true;
  $("sign-in").hidden = false;
  $("sign-out").hidden = true;
  delete document.body.dataset.loaded;
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    open();
  });
  $("sign-out").addEventListener("click", () => { signOut(); say(""); });
  $("ingest").addEventListener("submit", ingest);
  if (sessionStorage.getItem(TOKEN_KEY)) { open(); }
});
