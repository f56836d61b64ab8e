// Switchboard console: live updates over Server-Sent Events and small conveniences.
// Pages work without it; it only keeps them fresh. Text from customers is inserted with
// textContent, never as markup.
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // The queue: when anything changes, fetch the server-rendered (escaped) lists again and
  // swap them in, parsed as an inert document first.
  function liveQueue(box) {
    var refreshing = false;
    function refresh() {
      if (refreshing) { return; }
      refreshing = true;
      fetch(box.getAttribute("data-fragment"), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var parsed = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
          var fresh = parsed.body.firstChild;
          box.replaceChildren.apply(box, Array.prototype.slice.call(fresh.childNodes).map(function (node) {
            return document.importNode(node, true);
          }));
        })
        .finally(function () { refreshing = false; });
    }
    var source = new EventSource(box.getAttribute("data-live"));
    source.addEventListener("changed", refresh);
  }

  // Whether the transcript shows its newest line (give or take a few pixels).
  function atNewest(list) { return list.scrollHeight - list.scrollTop - list.clientHeight < 40; }
  function showNewest(list) { list.scrollTop = list.scrollHeight; }

  // A ticket: the transcript opens at its newest line; new lines are appended and followed
  // only when the agent was already looking at the newest (reading back stays put); when the
  // ticket changes hands or status, reload unless the agent is in the middle of typing.
  function liveTicket(list) {
    var seen = {};
    var anchor = document.getElementById("latest");
    showNewest(list);
    Array.prototype.forEach.call(list.querySelectorAll("li[data-id]"), function (item) {
      seen[item.getAttribute("data-id")] = true;
    });
    var initialStatus = list.getAttribute("data-status");
    var url = list.getAttribute("data-live") + "?after=" + encodeURIComponent(list.getAttribute("data-after"));
    var source = new EventSource(url);
    source.addEventListener("message", function (event) {
      var message = JSON.parse(event.data);
      if (seen[message.id]) { return; }
      seen[message.id] = true;
      var item = el("li", "msg msg-" + message.author);
      item.setAttribute("data-id", String(message.id));
      item.appendChild(el("span", "who", message.label));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("time", "", message.at));
      if (message.text) { item.appendChild(el("p", "text", message.text)); }
      if (message.note) { item.appendChild(el("p", "translation-note", message.note)); }
      if (message.aside) {
        // The other side of a translation, one click away, as the page renders it.
        var aside = el("details", "aside");
        aside.appendChild(el("summary", "", message.aside_label));
        aside.appendChild(el("p", "text", message.aside));
        item.appendChild(aside);
      }
      message.photos.forEach(function (sha) {
        var link = el("a");
        link.href = "/console/media/" + sha;
        link.target = "_blank";
        link.rel = "noopener";
        var image = el("img", "thumb");
        image.src = "/console/media/" + sha;
        image.alt = document.body.getAttribute("data-text-photo") || "";
        link.appendChild(image);
        item.appendChild(link);
      });
      var following = atNewest(list);
      list.insertBefore(item, anchor);
      if (following) { showNewest(list); }
    });
    source.addEventListener("status", function (event) {
      if (event.data === initialStatus) { return; }
      var typing = document.getElementById("reply-text");
      if (!typing || !typing.value) { window.location.reload(); }
    });
  }

  // Shows what the server said about an action, in the page's notice line.
  function notify(text) {
    var notice = document.getElementById("notice");
    if (!notice) {
      notice = el("p", "notice");
      notice.id = "notice";
      notice.setAttribute("role", "status");
      var main = document.getElementById("main");
      main.insertBefore(notice, main.firstChild);
    }
    notice.textContent = text;
  }

  // Replies and notes are posted in the background, so the page (and the transcript's
  // position) stays. The server answers as it does for the plain form: a redirect to the
  // ticket page with a notice, which is read from the page it leads to. Without JavaScript
  // the forms post and the page reloads at the newest message (`#latest`).
  function quietForms() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-quiet]"), function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var box = form.querySelector("textarea");
        var button = form.querySelector("button[type=submit]");
        var text = box.value;
        button.disabled = true;
        fetch(form.action, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(new FormData(form)).toString()
        }).then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          var outcome = new URL(response.url).searchParams.get("notice");
          return response.text().then(function (html) {
            var page = new DOMParser().parseFromString(html, "text/html");
            var said = page.getElementById("notice");
            notify(said ? said.textContent : "");
            if (outcome === "replied" || outcome === "noted") { box.value = ""; }
            if (outcome === "noted") {
              var notes = document.getElementById("notes");
              var fresh = page.getElementById("notes");
              if (notes && fresh) {
                notes.replaceChildren.apply(notes, Array.prototype.slice.call(fresh.childNodes).map(function (node) {
                  return document.importNode(node, true);
                }));
              }
            }
          });
        }).catch(function () {
          box.value = text;
          // The page carries this text in its language (`data-text-not-sent` on <body>).
          notify(document.body.getAttribute("data-text-not-sent") || "");
        }).finally(function () { button.disabled = false; });
      });
    });
  }

  function cannedReplies() {
    var select = document.getElementById("canned");
    var box = document.getElementById("reply-text");
    if (!select || !box) { return; }
    select.addEventListener("change", function () {
      if (select.value) { box.value = select.value; box.focus(); }
      select.value = "";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var queue = document.getElementById("queue");
    if (queue && queue.getAttribute("data-live")) { liveQueue(queue); }
    var transcript = document.getElementById("transcript");
    if (transcript && transcript.getAttribute("data-live")) { liveTicket(transcript); }
    cannedReplies();
    quietForms();
  });
})();
