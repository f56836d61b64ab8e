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

  // A ticket: append new transcript lines; when the ticket changes hands or status, reload
  // unless the agent is in the middle of typing.
  function liveTicket(list) {
    var seen = {};
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
      message.photos.forEach(function (sha) {
        var link = el("a");
        link.href = "/console/media/" + sha;
        link.target = "_blank";
        link.rel = "noopener";
        var image = el("img", "thumb");
        image.src = "/console/media/" + sha;
        image.alt = "Photo from the customer";
        link.appendChild(image);
        item.appendChild(link);
      });
      list.appendChild(item);
      item.scrollIntoView({ block: "nearest" });
    });
    source.addEventListener("status", function (event) {
      if (event.data === initialStatus) { return; }
      var typing = document.getElementById("reply-text");
      if (!typing || !typing.value) { window.location.reload(); }
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
  });
})();
