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

  function say(text) {  // a polite live region outside the refreshed parts: screen readers read it out
    var box = document.getElementById("announce");
    if (box) box.textContent = text;
  }

  function move(postId, where) {
    var body = new URLSearchParams(where);
    return fetch("/queue/" + encodeURIComponent(postId) + "/move" + accountQuery(), {
      method: "POST",
      headers: {"X-CSRF-Token": csrf(), "HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
      body: body.toString(),
      credentials: "same-origin"
    }).then(function (response) {
      return response.text().then(function (text) {
        if (response.ok) say(text);
        else announce(text || "the move was refused");
      });
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

  // The Move buttons by keyboard (or click): the same request as a drag, so the page stays where it is, the
  // focus stays on the button, and the live region says what happened. Without this script the form posts.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    if (!form.matches || !form.matches("form.move") || !button || !button.name) return;
    var item = form.closest("[data-post-id]");
    if (!item) return;
    event.preventDefault();
    var where = {};
    where[button.name] = button.value;
    move(item.dataset.postId, where);
  });

  // A live refresh replaces a part of the page: put the focus back where it was (the same control of the same
  // post, else that post's first control, else the main content, never <body>), and keep what the person was
  // typing and which edit boxes were open.
  function keyOf(el) {
    var item = el.closest("[data-post-id]");
    return {id: el.id, post: item ? item.dataset.postId : null, tag: el.tagName,
            name: el.getAttribute("name") || "", text: (el.textContent || "").trim()};
  }

  function findByKey(key) {
    if (key.id && document.getElementById(key.id)) return document.getElementById(key.id);
    var scope = null;
    if (key.post) {
      scope = Array.prototype.find.call(document.querySelectorAll("[data-post-id]"), function (e) {
        return e.dataset.postId === key.post && e.querySelector("button, a[href], input, summary");
      });
    }
    if (scope) {
      var same = Array.prototype.find.call(scope.querySelectorAll(key.tag), function (e) {
        return (e.getAttribute("name") || "") === key.name && (e.textContent || "").trim() === key.text;
      });
      return same || scope.querySelector("button:not([disabled]), a[href], input:not([type=hidden]), summary");
    }
    return document.getElementById("content");
  }

  var kept = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id === "live") return;
    var active = document.activeElement;
    kept = {focus: active && active !== document.body && target.contains(active) ? keyOf(active) : null,
            values: [], open: []};
    target.querySelectorAll("input[id], textarea[id]").forEach(function (field) {
      if (field.type !== "hidden" && field.type !== "checkbox" && field.value !== field.defaultValue) {
        kept.values.push([field.id, field.value]);
      }
    });
    target.querySelectorAll("details[open][id]").forEach(function (d) { kept.open.push(d.id); });
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!kept) return;
    var was = kept;
    kept = null;
    was.open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) d.open = true;
    });
    was.values.forEach(function (pair) {
      var field = document.getElementById(pair[0]);
      if (field && field.value !== pair[1]) {
        field.value = pair[1];
        if (window.htmx && field.getAttribute("hx-post")) window.htmx.trigger(field, "input");  // recount
      }
    });
    var active = document.activeElement;
    if (was.focus && (!active || active === document.body || !document.contains(active))) {
      var el = findByKey(was.focus);
      if (el) el.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:afterSettle", function () { setUp(document); });
})();
