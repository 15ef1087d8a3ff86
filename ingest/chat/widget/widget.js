/* helpline chat widget. Plain JS, no dependencies. Embed with one tag:
 *   <script src="https://chat.example.com/widget.js" data-site="acme" async></script>
 * Optional attributes: data-lang="fr|en", data-name, data-email, data-identifier,
 * data-identifier-hash (HMAC-SHA256 of the identifier with the site secret, computed by the
 * site's backend), data-api (the chat service URL; default: where this file came from).
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-site][src*='widget.js']");
  if (!script || window.__helplineChat) return;
  window.__helplineChat = true;
  var ds = script.dataset;
  var site = ds.site;
  var api = (ds.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var base = api + "/v1/sites/" + encodeURIComponent(site);
  var storeKey = "helpline-chat:" + site;
  var STR = {
    en: {
      open: "Chat with us", close: "Close chat", title: "Support", send: "Send",
      placeholder: "Type your message…", name: "Your name", email: "Your email",
      start: "Start chat", intro: "Hi! Ask us anything, we usually answer within minutes.",
      offlineTitle: "We're offline", offlineIntro: "Leave a message and we'll reply by email.",
      message: "Message", submit: "Send message", offlineDone: "Thanks! We received your message and will reply by email.",
      sending: "Sending…", failed: "Not sent", retry: "Retry", you: "You", agent: "Support",
      reconnecting: "Connection lost, reconnecting…", connected: "Connected",
      waiting: "Not sent yet, retrying…", emailRequired: "Please enter a valid email.",
      messageRequired: "Please write your message.",
      newReply: "New reply from support"
    },
    fr: {
      open: "Discuter avec nous", close: "Fermer la discussion", title: "Assistance", send: "Envoyer",
      placeholder: "Écrivez votre message…", name: "Votre nom", email: "Votre e-mail",
      start: "Commencer", intro: "Bonjour ! Posez-nous vos questions, nous répondons en quelques minutes.",
      offlineTitle: "Nous sommes absents", offlineIntro: "Laissez-nous un message, nous vous répondrons par e-mail.",
      message: "Message", submit: "Envoyer le message", offlineDone: "Merci ! Nous avons bien reçu votre message et vous répondrons par e-mail.",
      sending: "Envoi…", failed: "Non envoyé", retry: "Réessayer", you: "Vous", agent: "Assistance",
      reconnecting: "Connexion perdue, reconnexion…", connected: "Connecté",
      waiting: "Pas encore envoyé, nouvel essai…", emailRequired: "Veuillez saisir une adresse e-mail valide.",
      messageRequired: "Veuillez écrire votre message.",
      newReply: "Nouvelle réponse de l'assistance"
    }
  };
  var lang = (ds.lang || document.documentElement.lang || navigator.language || "en").slice(0, 2).toLowerCase();
  if (!STR[lang]) lang = "en";
  var t = STR[lang];

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch (e) { return {}; }
  }
  var state = load();
  state.messages = state.messages || [];
  state.seen = state.seen || [];
  function save() {
    try { localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    return node;
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  var css = el("link", { rel: "stylesheet", href: api + "/widget.css" });
  document.head.appendChild(css);
  var root = el("div", { id: "hl-chat", "class": "hl-chat", lang: lang });
  var launcher = el("button", { id: "hl-launcher", "class": "hl-launcher", type: "button",
    "aria-expanded": "false", "aria-controls": "hl-panel", "aria-label": t.open });
  var icon = el("span", { "class": "hl-launcher-icon", "aria-hidden": "true" });
  // inline SVG: no emoji font or image request needed
  icon.innerHTML = '<svg viewBox="0 0 24 24" width="28" height="28" fill="currentColor" focusable="false">' +
    '<path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';
  launcher.appendChild(icon);
  launcher.appendChild(el("span", { "class": "hl-badge", hidden: "" }, "1"));
  var panel = el("section", { id: "hl-panel", "class": "hl-panel", role: "dialog",
    "aria-labelledby": "hl-title", hidden: "" });
  var header = el("header", { "class": "hl-header" });
  var title = el("h2", { id: "hl-title" }, t.title);
  var closeBtn = el("button", { type: "button", "class": "hl-close", "aria-label": t.close }, "×");
  header.appendChild(title); header.appendChild(closeBtn);
  var status = el("p", { id: "hl-status", "class": "hl-status", role: "status", "aria-live": "polite" });
  var log = el("ol", { id: "hl-log", "class": "hl-log", role: "log", "aria-live": "polite",
    "aria-relevant": "additions", tabindex: "0", "aria-label": t.title });
  var intro = el("p", { "class": "hl-intro" }, t.intro);

  function field(name, label, type, required) {
    var wrap = el("label", { "class": "hl-field" });
    wrap.appendChild(el("span", {}, label));
    var input = el(type === "textarea" ? "textarea" : "input",
      type === "textarea" ? { name: name, rows: "4" } : { name: name, type: type, autocomplete: name });
    if (required) { input.required = true; input.setAttribute("aria-required", "true"); }
    wrap.appendChild(input);
    return wrap;
  }
  // novalidate: our own checks, announced in the status line, instead of the browser's bubbles
  var prechat = el("form", { id: "hl-prechat", "class": "hl-form", hidden: "", novalidate: "" });
  var compose = el("form", { id: "hl-compose", "class": "hl-compose", hidden: "" });
  var textarea = el("textarea", { id: "hl-text", name: "text", rows: "2", placeholder: t.placeholder,
    "aria-label": t.placeholder, maxlength: "4000" });
  compose.appendChild(textarea);
  compose.appendChild(el("button", { type: "submit", "class": "hl-send" }, t.send));
  var offline = el("form", { id: "hl-offline", "class": "hl-form", hidden: "", novalidate: "" });
  offline.appendChild(el("p", { "class": "hl-intro" }, t.offlineIntro));

  [panel].forEach(function (p) {
    p.appendChild(header); p.appendChild(status); p.appendChild(intro); p.appendChild(log);
    p.appendChild(prechat); p.appendChild(offline); p.appendChild(compose);
  });
  root.appendChild(panel); root.appendChild(launcher);

  var config = { online: true, pre_chat_fields: ["name", "email"], require_email: false };
  function buildForms() {
    prechat.textContent = ""; offline.textContent = "";
    offline.appendChild(el("p", { "class": "hl-intro" }, t.offlineIntro));
    config.pre_chat_fields.forEach(function (f) {
      prechat.appendChild(field(f, f === "name" ? t.name : t.email, f === "email" ? "email" : "text",
        f === "email" && config.require_email));
    });
    prechat.appendChild(el("button", { type: "submit", "class": "hl-send" }, t.start));
    offline.appendChild(field("name", t.name, "text", false));
    offline.appendChild(field("email", t.email, "email", true));
    offline.appendChild(field("text", t.message, "textarea", true));
    offline.appendChild(el("button", { type: "submit", "class": "hl-send" }, t.submit));
  }

  function show(form) {
    [prechat, compose, offline].forEach(function (f) { f.hidden = f !== form; });
    intro.hidden = form === offline || !!state.offlineSent;
    log.hidden = form === offline;  // the offline form takes the whole panel
    title.textContent = form === offline ? t.offlineTitle : (config.title || t.title);
  }
  function view() {
    if (state.offlineSent) { show(null); setStatus(t.offlineDone); return; }
    if (state.conversation_id || state.prechatDone || !config.pre_chat_fields.length) show(compose);
    else if (!config.online) show(offline);
    else show(prechat);
  }
  function setStatus(text) { status.textContent = text || ""; }
  function clearReconnecting() { if (status.textContent === t.reconnecting) setStatus(""); }
  function focusFirst() {
    var target = [prechat, offline, compose].filter(function (f) { return !f.hidden; })[0];
    var input = target && target.querySelector("input, textarea");
    (input || closeBtn).focus();
  }

  function render() {
    log.textContent = "";
    state.messages.forEach(function (m) { log.appendChild(bubble(m)); });
    log.scrollTop = log.scrollHeight;
  }
  function bubble(m) {
    var li = el("li", { "class": "hl-msg hl-" + m.from, "data-id": m.id });
    li.appendChild(el("span", { "class": "hl-visually-hidden" }, (m.from === "visitor" ? t.you : (m.author || t.agent)) + ": "));
    li.appendChild(el("span", { "class": "hl-text" }, m.text));
    if (m.from === "visitor" && m.state !== "sent") {
      var note = el("small", { "class": "hl-state" }, m.state === "failed" ? t.failed + (m.error ? " — " + m.error : "") : (m.state === "waiting" ? t.waiting : t.sending));
      li.appendChild(note);
      if (m.state === "failed") {
        var again = el("button", { type: "button", "class": "hl-retry" }, t.retry);
        again.addEventListener("click", function () { m.state = "sending"; save(); render(); deliver(m); });
        li.appendChild(again);
      }
    }
    return li;
  }

  function request(method, url, body) {
    var headers = { "Content-Type": "application/json" };
    if (state.visitor_token) headers.Authorization = "Bearer " + state.visitor_token;
    return fetch(url, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      mode: "cors", credentials: "omit" }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { status: res.status, data: data, retryAfter: parseInt(res.headers.get("Retry-After") || "0", 10) };
      });
    });
  }
  function contact() {
    return { name: state.name || ds.name || undefined, email: state.email || ds.email || undefined,
      locale: lang, page_url: location.href.slice(0, 2000) };
  }
  var starting = null;
  function ensureConversation() {
    if (state.conversation_id) return Promise.resolve();
    if (starting) return starting;
    var body = contact();
    body.visitor_token = state.visitor_token;
    if (ds.identifier) { body.identifier = ds.identifier; body.identifier_hash = ds.identifierHash; }
    starting = request("POST", base + "/conversations", body).then(function (r) {
      starting = null;
      if (r.status !== 201) { var e = new Error((r.data.error || {}).message || "HTTP " + r.status); e.result = r; throw e; }
      state.conversation_id = r.data.conversation_id;
      state.visitor_token = r.data.visitor_token;
      save(); listen();
    }, function (err) { starting = null; throw err; });
    return starting;
  }

  var MAX_BACKOFF_MS = 30000;
  function deliver(m, attempt) {
    attempt = attempt || 0;
    ensureConversation().then(function () {
      var body = contact();
      body.message_id = m.id; body.text = m.text;
      if (m.fields) body.fields = m.fields;
      return request("POST", base + "/conversations/" + state.conversation_id + "/messages", body);
    }).then(function (r) {
      if (r.status === 202) { m.state = "sent"; save(); render(); return; }
      if (r.status === 503 || r.status === 429 || r.status >= 500) { throw { result: r }; }
      m.state = "failed"; m.error = (r.data.error || {}).message || ""; save(); render();
    }, function (err) { throw err; }).catch(function (err) {
      var r = err && err.result;
      if (r && r.status && r.status < 500 && r.status !== 429) {
        m.state = "failed"; m.error = (r.data.error || {}).message || ""; save(); render(); return;
      }
      // network loss, 503 (broker unavailable) or 429: same message id, later
      m.state = "waiting"; save(); render();
      var wait = r && r.retryAfter ? r.retryAfter * 1000 : Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempt));
      setTimeout(function () { deliver(m, attempt + 1); }, wait);
    });
  }
  function sendText(text, fields) {
    var m = { id: newId(), from: "visitor", text: text, at: new Date().toISOString(), state: "sending", fields: fields };
    state.messages.push(m); save(); render(); deliver(m);
  }

  var source = null, retryDelay = 1000, reconnectTimer = null;
  function listen() {
    if (!state.conversation_id || !window.EventSource) return;
    if (source) source.close();
    source = new EventSource(base + "/conversations/" + state.conversation_id + "/events?token=" + encodeURIComponent(state.visitor_token));
    source.addEventListener("open", function () { retryDelay = 1000; clearReconnecting(); });
    source.addEventListener("reply", function (ev) {
      var r = JSON.parse(ev.data);
      if (state.seen.indexOf(r.notification_id) >= 0) return;
      state.seen.push(r.notification_id);
      state.seen = state.seen.slice(-200);
      state.messages.push({ id: r.notification_id, from: "agent", author: r.author, text: r.text, at: r.at, kind: r.kind });
      save(); render();
      if (panel.hidden) { launcher.querySelector(".hl-badge").hidden = false; launcher.setAttribute("aria-label", t.open + " — " + t.newReply); }
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {  // the server refused: back off, try again
        setStatus(t.reconnecting);
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(listen, retryDelay);
        retryDelay = Math.min(MAX_BACKOFF_MS, retryDelay * 2);
      } else if (!navigator.onLine) { setStatus(t.reconnecting); }
    });
  }
  window.addEventListener("online", function () {
    clearReconnecting();
    if (state.conversation_id && (!source || source.readyState === EventSource.CLOSED)) listen();
    state.messages.forEach(function (m) { if (m.state === "waiting") deliver(m, 0); });
  });
  window.addEventListener("offline", function () { setStatus(t.reconnecting); });

  function openPanel(focus) {
    panel.hidden = false; launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", t.close);
    launcher.querySelector(".hl-badge").hidden = true;
    state.open = true; save(); render();
    if (focus !== false) focusFirst();
  }
  function closePanel() {
    panel.hidden = true; launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", t.open);
    state.open = false; save(); launcher.focus();
  }
  launcher.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(); });
  closeBtn.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { ev.preventDefault(); closePanel(); } });
  textarea.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); compose.requestSubmit(); }
  });
  compose.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = textarea.value.trim();
    if (!text) return;
    textarea.value = ""; sendText(text); textarea.focus();
  });
  function formValues(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (i) { if (i.name) out[i.name] = i.value.trim(); });
    return out;
  }
  function emailOk(v) { return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v); }
  function invalid(form, name, message) {
    var input = form.querySelector("[name=" + name + "]");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "hl-status");
    setStatus(message); input.focus();
  }
  function clearInvalid(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (i) { i.removeAttribute("aria-invalid"); });
  }
  [prechat, offline].forEach(function (form) {
    form.addEventListener("input", function (ev) {
      if (ev.target.getAttribute("aria-invalid")) { ev.target.removeAttribute("aria-invalid"); setStatus(""); }
    });
  });
  prechat.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var v = formValues(prechat);
    clearInvalid(prechat);
    if (v.email && !emailOk(v.email) || (config.require_email && !v.email)) { invalid(prechat, "email", t.emailRequired); return; }
    state.name = v.name || state.name; state.email = v.email || state.email;
    state.prechatDone = true; save(); setStatus(""); show(compose); textarea.focus();
  });
  offline.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var v = formValues(offline);
    clearInvalid(offline);
    if (!emailOk(v.email)) { invalid(offline, "email", t.emailRequired); return; }
    if (!v.text) { invalid(offline, "text", t.messageRequired); return; }
    setStatus("");
    state.name = v.name; state.email = v.email; state.offlineSent = true;
    sendText(v.text, { offline: "true" }); view(); closeBtn.focus();
  });

  function boot() {
    document.body.appendChild(root);
    fetch(base + "/config", { mode: "cors", credentials: "omit" }).then(function (r) { return r.json(); })
      .then(function (c) { if (c && c.site) config = c; }, function () { /* keep defaults */ })
      .then(function () {
        buildForms(); view(); render();
        if (state.conversation_id) listen();
        state.messages.forEach(function (m) { if (m.from === "visitor" && (m.state === "sending" || m.state === "waiting")) deliver(m); });
        if (state.open) openPanel(false);
        root.setAttribute("data-ready", "true");
      });
  }
  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
})();
