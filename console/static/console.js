// helpline console: countdowns, live updates (server-sent events), keyboard, charts.
// No inline scripts anywhere (the Content-Security-Policy forbids them).
"use strict";
(function () {
  const body = document.body;
  const page = body.dataset.page;

  function fmt(seconds) {
    const s = Math.floor(Math.abs(seconds));
    const day = body.dataset.lang === "fr" ? "j" : "d";
    if (s >= 86400) return Math.floor(s / 86400) + day + " " + Math.floor(s % 86400 / 3600) + "h";
    if (s >= 3600) return Math.floor(s / 3600) + "h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
    if (s >= 60) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
    return s + "s";
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      const left = (Date.parse(el.dataset.due) - now) / 1000;
      el.textContent = (left < 0 ? body.dataset.overdue : body.dataset.in) + " " + fmt(left);
      const row = el.closest("tr, li");
      if (row && left < 0) { row.classList.remove("sla-ok", "sla-warning"); row.classList.add("sla-breached"); }
    });
  }
  setInterval(tick, 1000);

  // --- live updates -------------------------------------------------------------------------
  async function refresh(target, url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (r.ok) {
      const had = document.activeElement && target.contains(document.activeElement);
      target.innerHTML = await r.text(); tick(); syncForms();
      // the selected ticket stays selected (by number: rows may have moved), and focused
      // if it was, so the next key press goes where the agent expects
      const all = rows();
      const at = all.findIndex(function (row) { return row.dataset.ticket === selectedTicket; });
      if (at >= 0) select(at, had); else selected = -1;
    }
  }
  // the action forms beside the live part show the ticket's current status and priority
  function syncForms() {
    [["ticket-status", "status-select"], ["ticket-priority", "priority-select"]].forEach(function (p) {
      const shown = document.getElementById(p[0]), select = document.getElementById(p[1]);
      if (shown && select && document.activeElement !== select) select.value = shown.textContent.trim();
    });
  }
  let pending = null;
  // changes come in bursts (one message is several events): one refresh per burst
  function soon(fn) { if (pending) return; pending = setTimeout(function () { pending = null; fn(); }, 500); }
  function reloadPart() {
    if (page === "queue") {
      const q = document.getElementById("queue");
      const query = q.dataset.query;
      soon(function () { refresh(q, "/queue?partial=1" + (query ? "&" + query : "")); });
    } else if (page === "ticket") {
      const t = document.getElementById("ticket");
      soon(function () { refresh(document.getElementById("live-part"), "/tickets/" + t.dataset.number + "?partial=1"); });
    }
  }
  const state = document.getElementById("live-state");
  if (state && (page === "queue" || page === "ticket")) {
    const src = new EventSource("/live");
    const mine = page === "ticket" ? document.getElementById("ticket").dataset.ticketId : null;
    function on(kind) {
      src.addEventListener(kind, function (ev) { if (!mine || ev.data === mine) reloadPart(); });
    }
    on("ticket"); on("event");
    src.addEventListener("reset", reloadPart);
    src.onopen = function () {
      state.textContent = "● " + state.dataset.live; state.dataset.connected = "1";
      // what changed between rendering the page and this (re)connection was not streamed
      reloadPart();
    };
    src.onerror = function () { state.textContent = state.dataset.reconnecting; state.dataset.connected = ""; };
  }

  // --- keyboard -------------------------------------------------------------------------------
  let selected = -1, selectedTicket = null;
  function rows() { return Array.from(document.querySelectorAll("table.queue tbody tr")); }
  function select(i, focus) {
    const all = rows();
    all.forEach(function (r) { r.classList.remove("selected"); });
    if (!all.length || i < 0) return;
    selected = Math.max(0, Math.min(i, all.length - 1));
    selectedTicket = all[selected].dataset.ticket;
    all[selected].classList.add("selected");
    if (focus !== false) all[selected].querySelector("a").focus();
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && ev.target.form && ev.target.tagName === "TEXTAREA") {
      ev.preventDefault(); ev.target.form.requestSubmit(); return;  // Ctrl+Enter sends
    }
    const tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (page === "queue" && ev.key === "j") { select(selected + 1); ev.preventDefault(); }
    else if (page === "queue" && ev.key === "k") { select(selected - 1); ev.preventDefault(); }
    else if (page === "queue" && ev.key === "/") { const f = document.querySelector("#filters select"); if (f) { f.focus(); ev.preventDefault(); } }
    else if (page === "ticket" && ev.key === "r") { const r = document.getElementById("reply-text"); if (r) { r.focus(); ev.preventDefault(); } }
  });

  // --- charts ---------------------------------------------------------------------------------
  const data = document.getElementById("report-data");
  if (data && window.Chart) {
    const report = JSON.parse(data.textContent);
    function bar(id, labels, values) {
      const el = document.getElementById(id);
      if (!el) return;
      el.chart = new window.Chart(el, { type: "bar", data: { labels: labels, datasets: [{ label: "tickets", data: values, backgroundColor: "#0b5cad" }] },
        options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
      el.dataset.drawn = String(values.length);
    }
    const v = report.volume;
    bar("chart-day", Object.keys(v.by_day), Object.values(v.by_day));
    bar("chart-channel", Object.keys(v.by_channel), Object.values(v.by_channel));
    bar("chart-category", Object.keys(v.by_category), Object.values(v.by_category));
    bar("chart-hours", report.busiest_hours.map(function (_, h) { return h + "h"; }), report.busiest_hours);
  }
})();
