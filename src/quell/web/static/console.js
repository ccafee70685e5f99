// quell console: live updates and small conveniences. Every page works without this file.
(function () {
  "use strict";

  function fmt(seconds) {
    var s = Math.abs(Math.round(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + " d " + h + " h";
    if (h > 0) return h + " h " + m + " min";
    if (m > 0) return m + " min " + (s % 60) + " s";
    return s + " s";
  }

  // Countdowns: regulatory clocks and the next What We Know update.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = (due - now) / 1000;
      el.textContent = left >= 0 ? "due in " + fmt(left) : "overdue by " + fmt(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 3600);
    });
  }

  // Forms that ask before doing something drastic (the server asks too, with a checkbox).
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  function stamp() { return new Date().toLocaleTimeString(); }

  // The board: swap in fresh rows whenever the server says incidents changed.
  function liveBoard(table) {
    var status = document.getElementById("live-status");
    var body = document.getElementById("board-rows");
    if (!window.EventSource || !body) return;
    var source = new EventSource("/events");
    function refresh() {
      fetch(table.getAttribute("data-live") + window.location.search, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) {
          var before = {};
          body.querySelectorAll("tr[data-incident]").forEach(function (tr) { before[tr.getAttribute("data-incident")] = true; });
          body.innerHTML = html;
          var count = 0;
          body.querySelectorAll("tr[data-incident]").forEach(function (tr) {
            count += 1;
            if (!before[tr.getAttribute("data-incident")]) tr.classList.add("flash-row");
          });
          tick();
          status.textContent = count + " shown. Live: updated " + stamp() + ".";
        })
        .catch(function () { status.textContent = "Live update failed; refresh the page."; });
    }
    source.addEventListener("hello", function () { status.textContent = status.textContent.replace(/Refresh.*$/, "Live updates on."); });
    source.addEventListener("change", refresh);
    source.onerror = function () { status.textContent = "Live updates interrupted; reconnecting…"; };
  }

  // An incident page: say when someone else changed it, without clobbering a half-typed form.
  function liveIncident(article) {
    var status = document.getElementById("live-status");
    if (!window.EventSource || !status) return;
    var source = new EventSource("/events?incident=" + encodeURIComponent(article.getAttribute("data-incident")));
    source.addEventListener("change", function () {
      status.classList.add("changed");
      status.innerHTML = "";
      status.appendChild(document.createTextNode("This incident changed at " + stamp() + ". "));
      var a = document.createElement("a");
      a.href = window.location.pathname + window.location.search;
      a.textContent = "Reload to see it";
      status.appendChild(a);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
    var table = document.getElementById("board");
    if (table && table.getAttribute("data-live")) liveBoard(table);
    var article = document.querySelector("article.incident[data-incident]");
    if (article) liveIncident(article);
  });
})();
