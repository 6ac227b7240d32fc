// tip-scheduler dashboard: drag-and-drop reordering of the queue (the Move buttons do the same by keyboard).
// No inline script anywhere: the Content-Security-Policy allows only files from /static/.
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function accountQuery() {  // with several accounts, the page's account: every request names it
    var meta = document.querySelector('meta[name="account"]');
    var name = meta ? meta.getAttribute("content") : "";
    return name ? "?account=" + encodeURIComponent(name) : "";
  }

  function announce(text) {
    var box = document.getElementById("messages");
    if (!box) return;
    box.innerHTML = "";
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.appendChild(p);
  }

  function move(postId, where) {
    var body = new URLSearchParams(where);
    return fetch("/queue/" + encodeURIComponent(postId) + "/move" + accountQuery(), {
      method: "POST",
      headers: {"X-CSRF-Token": csrf(), "HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
      body: body.toString(),
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (text) { announce(text || "the move was refused"); });
      }
    }).catch(function () {
      announce("the move did not reach the server; reload the page");
    }).then(function () {
      if (window.htmx) window.htmx.trigger(document.body, "ledger-changed");
    });
  }

  function setUp(root) {
    var list = (root || document).querySelector ? (root || document).querySelector("#queue-list") : null;
    if (!list || list.dataset.sortable === "on" || !window.Sortable) return;
    list.dataset.sortable = "on";
    window.Sortable.create(list, {
      handle: ".drag",
      animation: 120,
      forceFallback: true,  // pointer events rather than native drag and drop: the same on touch screens
      onEnd: function (event) {
        if (event.oldIndex === event.newIndex) return;
        var item = event.item;
        var prev = item.previousElementSibling;
        var next = item.nextElementSibling;
        var where = prev ? {after: prev.dataset.postId} : {before: next.dataset.postId};
        move(item.dataset.postId, where);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:afterSettle", function () { setUp(document); });
})();
