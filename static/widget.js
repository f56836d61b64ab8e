// Switchboard chat widget: plain JavaScript, no build step. It builds its own markup, so any
// page can include it with one <script> tag and widget.css.
//
// Protocol (see src/channels/webchat): POST /chat/start sets the visitor cookie; an
// EventSource on /chat/events?after=N streams the conversation (event ids are message-log
// ids); POST /chat/messages and /chat/photos send, each with a client-made id so a resend
// after a network error is deduplicated by the server.
//
// Everything that came from a person is inserted with textContent, never as markup.
(function () {
  "use strict";

  var TEXTS = {
    en: { open: "Chat with us", title: "Support chat", language: "Language", close: "Close chat",
      message: "Your message", send: "Send", attach: "Photo", you: "You", bot: "Support bot",
      agent: "Agent", photo: "Photo", reconnecting: "Connection lost, reconnecting…",
      failed: "The message was not sent. Check your connection and try again.",
      tooLarge: "That photo is larger than {mb} MB. Please send a smaller one.",
      notImage: "Only JPEG, PNG, GIF or WebP images can be sent.", options: "Choices" },
    ru: { open: "Написать нам", title: "Чат поддержки", language: "Язык", close: "Закрыть чат",
      message: "Ваше сообщение", send: "Отправить", attach: "Фото", you: "Вы", bot: "Бот поддержки",
      agent: "Оператор", photo: "Фото", reconnecting: "Связь потеряна, переподключаемся…",
      failed: "Сообщение не отправлено. Проверьте подключение и попробуйте ещё раз.",
      tooLarge: "Фото больше {mb} МБ. Пожалуйста, отправьте файл поменьше.",
      notImage: "Можно отправить только изображения JPEG, PNG, GIF или WebP.", options: "Варианты" },
    zh: { open: "联系我们", title: "客服聊天", language: "语言", close: "关闭聊天",
      message: "您的消息", send: "发送", attach: "照片", you: "您", bot: "客服机器人",
      agent: "客服", photo: "照片", reconnecting: "连接中断，正在重新连接…",
      failed: "消息未发送。请检查网络后重试。",
      tooLarge: "照片超过 {mb} MB，请发送较小的图片。",
      notImage: "只能发送 JPEG、PNG、GIF 或 WebP 图片。", options: "选项" }
  };
  var LANGUAGES = [["en", "English"], ["ru", "Русский"], ["zh", "中文"]];
  var HEADERS = { "X-Requested-With": "switchboard-widget" };

  var lang = "en";
  var maxPhotoBytes = 20 * 1024 * 1024;
  var lastId = 0;
  var seen = {};
  var pending = {};
  var source = null;
  var started = false;

  // A signed-in customer: the store's page signs who they are into the script tag's data-
  // attributes (see docs/order-lookup.md). Sent with the first message of the page; the
  // server checks the signature.
  var script = document.currentScript;
  var identity = null;
  var identitySent = false;
  if (script && script.getAttribute("data-customer-id")) {
    identity = {
      customer_id: script.getAttribute("data-customer-id"),
      email: script.getAttribute("data-customer-email") || undefined,
      ts: Number(script.getAttribute("data-customer-ts")),
      sig: script.getAttribute("data-customer-sig") || ""
    };
  }

  function t(key) { return (TEXTS[lang] || TEXTS.en)[key]; }

  // Until the server says which language the conversation has, the browser's first language
  // we speak labels the launcher.
  function browserLanguage() {
    var tags = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
    for (var i = 0; i < tags.length; i++) {
      var primary = String(tags[i]).split("-")[0].toLowerCase();
      if (TEXTS[primary]) { return primary; }
    }
    return "en";
  }
  lang = browserLanguage();

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ---- markup ----
  var launcher = el("button", { type: "button", "class": "sb-launcher", id: "sb-launcher",
    "aria-controls": "sb-chat", "aria-expanded": "false" });
  var panel = el("section", { "class": "sb-chat", id: "sb-chat", "aria-labelledby": "sb-title" });
  panel.hidden = true;
  var head = el("div", { "class": "sb-head" });
  var title = el("h2", { id: "sb-title" });
  var langLabel = el("label", { "for": "sb-lang", "class": "sb-visually-hidden" });
  var langSelect = el("select", { id: "sb-lang" });
  LANGUAGES.forEach(function (pair) { langSelect.appendChild(el("option", { value: pair[0], lang: pair[0] }, pair[1])); });
  var closeButton = el("button", { type: "button", "class": "sb-close", id: "sb-close" }, "×");
  head.append(title, langLabel, langSelect, closeButton);
  var log = el("ol", { "class": "sb-log", id: "sb-log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  var status = el("p", { "class": "sb-status", id: "sb-status", role: "status" });
  var form = el("form", { "class": "sb-form", id: "sb-form" });
  var inputLabel = el("label", { "for": "sb-input", "class": "sb-visually-hidden" });
  var input = el("textarea", { id: "sb-input", rows: "2", maxlength: "4000" });
  var attach = el("label", { "for": "sb-photo", "class": "sb-attach", id: "sb-attach" });
  var photoInput = el("input", { type: "file", id: "sb-photo", "class": "sb-visually-hidden",
    accept: "image/jpeg,image/png,image/gif,image/webp" });
  var sendButton = el("button", { type: "submit", "class": "sb-send", id: "sb-send" });
  form.append(inputLabel, input, attach, photoInput, sendButton);
  panel.append(head, log, status, form);

  function applyTexts() {
    panel.setAttribute("lang", lang);
    launcher.textContent = t("open");
    title.textContent = t("title");
    langLabel.textContent = t("language");
    closeButton.setAttribute("aria-label", t("close"));
    inputLabel.textContent = t("message");
    input.setAttribute("placeholder", t("message"));
    attach.textContent = t("attach");
    sendButton.textContent = t("send");
    langSelect.value = lang;
  }

  function setStatus(text) { status.textContent = text || ""; }

  // ---- showing messages ----
  function authorLabel(message) {
    if (message.author === "customer") { return t("you"); }
    if (message.author === "agent") { return message.agent ? message.agent + " (" + t("agent") + ")" : t("agent"); }
    return t("bot");
  }

  function bubble(message) {
    var item = el("li", { "class": "sb-msg sb-msg-" + message.author });
    var who = el("span", { "class": "sb-who" }, authorLabel(message));
    if (message.agent_photo) {
      who.prepend(el("img", { "class": "sb-avatar", src: message.agent_photo, alt: "" }));
    }
    item.appendChild(who);
    if (message.text) { item.appendChild(el("p", { "class": "sb-text" }, message.text)); }
    (message.photos || []).forEach(function (url) {
      item.appendChild(el("img", { "class": "sb-photo", src: url, alt: t("photo") }));
    });
    if (message.buttons && message.buttons.length) {
      var group = el("div", { "class": "sb-buttons", role: "group", "aria-label": t("options") });
      message.buttons.forEach(function (row) {
        row.forEach(function (button) {
          var node = el("button", { type: "button", "data-action": button.data }, button.label);
          node.addEventListener("click", function () { pressButton(button.data); });
          group.appendChild(node);
        });
      });
      item.appendChild(group);
    }
    return item;
  }

  function disableOldButtons() {
    Array.prototype.forEach.call(log.querySelectorAll(".sb-buttons button"), function (node) { node.disabled = true; });
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function onMessage(message) {
    if (seen[message.id]) { return; }
    seen[message.id] = true;
    lastId = Math.max(lastId, message.id);
    var mine = message.client_id && pending[message.client_id];
    if (mine) {
      // Our own message came back from the log: it is stored, so stop showing it as sending.
      mine.classList.remove("sb-sending");
      mine.setAttribute("data-id", String(message.id));
      delete pending[message.client_id];
      return;
    }
    if (message.author === "customer" && !message.text && !(message.photos || []).length) { return; }
    if (message.buttons && message.buttons.length) { disableOldButtons(); }
    var item = bubble(message);
    item.setAttribute("data-id", String(message.id));
    log.appendChild(item);
    scrollDown();
  }

  // ---- the live stream ----
  function connect() {
    if (source) { source.close(); }
    source = new EventSource("/chat/events?after=" + lastId);
    source.addEventListener("message", function (event) {
      try { onMessage(JSON.parse(event.data)); } catch (problem) { /* a malformed event is skipped */ }
    });
    source.onopen = function () { setStatus(""); };
    source.onerror = function () {
      setStatus(t("reconnecting"));
      // The browser retries by itself (sending Last-Event-ID) unless it gave up for good.
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 2000); }
    };
  }

  // ---- sending ----
  function post(url, body, isJson, attempt) {
    attempt = attempt || 0;
    var options = { method: "POST", credentials: "same-origin", headers: Object.assign({}, HEADERS), body: body };
    if (isJson) { options.headers["Content-Type"] = "application/json"; }
    return fetch(url, options).then(function (response) {
      if (response.status === 503 || response.status === 502) { throw new Error("retry"); }
      return response;
    }).catch(function (problem) {
      if (attempt >= 4) { throw problem; }
      // Same id on every attempt: the server stores the message at most once.
      return new Promise(function (resolve) { setTimeout(resolve, 500 * Math.pow(2, attempt)); })
        .then(function () { return post(url, body, isJson, attempt + 1); });
    });
  }

  function sendJson(payload) {
    if (identity && !identitySent) {
      payload.identity = identity;
      identitySent = true;
    }
    return post("/chat/messages", JSON.stringify(payload), true).then(function (response) {
      if (!response.ok) { throw new Error("status " + response.status); }
      setStatus("");
    });
  }

  function sendText(text) {
    var id = newId();
    var item = bubble({ author: "customer", text: text });
    item.classList.add("sb-sending");
    pending[id] = item;
    log.appendChild(item);
    scrollDown();
    sendJson({ id: id, text: text }).catch(function () { setStatus(t("failed")); });
  }

  function pressButton(data) {
    sendJson({ id: newId(), button: data }).catch(function () { setStatus(t("failed")); });
  }

  function sendPhoto(file) {
    if (["image/jpeg", "image/png", "image/gif", "image/webp"].indexOf(file.type) < 0) {
      setStatus(t("notImage"));
      return;
    }
    if (file.size > maxPhotoBytes) {
      setStatus(t("tooLarge").replace("{mb}", String(Math.floor(maxPhotoBytes / 1048576))));
      return;
    }
    var id = newId();
    var item = el("li", { "class": "sb-msg sb-msg-customer sb-sending" });
    item.appendChild(el("span", { "class": "sb-who" }, t("you")));
    item.appendChild(el("img", { "class": "sb-photo", src: URL.createObjectURL(file), alt: t("photo") }));
    pending[id] = item;
    log.appendChild(item);
    scrollDown();
    var body = new FormData();
    body.append("id", id);
    body.append("photo", file, file.name);
    post("/chat/photos", body, false).then(function (response) {
      if (response.status === 413) {
        return response.json().then(function (answer) {
          item.remove();
          setStatus(t("tooLarge").replace("{mb}", String(answer.limit_mb)));
        });
      }
      if (response.status === 415) { item.remove(); setStatus(t("notImage")); return; }
      if (!response.ok) { throw new Error("status " + response.status); }
      setStatus("");
    }).catch(function () { setStatus(t("failed")); });
  }

  // ---- wiring ----
  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    input.focus();
    if (!started) {
      started = true;
      fetch("/chat/start", { method: "POST", credentials: "same-origin", headers: HEADERS })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          lang = TEXTS[answer.lang] ? answer.lang : "en";
          maxPhotoBytes = answer.max_photo_bytes || maxPhotoBytes;
          applyTexts();
          // A new visitor is greeted at once; the conversation starts with what they do next.
          (answer.welcome || []).forEach(function (message) {
            var item = bubble(message);
            item.classList.add("sb-welcome");
            log.appendChild(item);
          });
          scrollDown();
          connect();
        })
        .catch(function () { started = false; setStatus(t("failed")); });
    }
  }

  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { close(); } });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    sendText(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  photoInput.addEventListener("change", function () {
    if (photoInput.files && photoInput.files[0]) { sendPhoto(photoInput.files[0]); }
    photoInput.value = "";
  });
  langSelect.addEventListener("change", function () {
    lang = langSelect.value;
    applyTexts();
    // The same button every channel has: the dialog switches language and answers in it.
    if (started) { pressButton("l:" + lang); }
  });

  function mount() {
    applyTexts();
    document.body.append(launcher, panel);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", mount); } else { mount(); }
})();
