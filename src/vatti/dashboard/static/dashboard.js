// vatti dashboard: small progressive enhancement. Pages work without it; with it, the part of a
// page marked data-live is fetched again when its server-sent events say something changed,
// and a running job's log follows live.
"use strict";
(function () {
  function swap(section) {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(section.id);
        if (!fresh) { return; }
        var focused = document.activeElement && document.activeElement.id;
        section.replaceChildren.apply(section, Array.prototype.slice.call(fresh.childNodes));
        if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
      })
      .catch(function () {});
  }

  function live(section) {
    var source = new EventSource(section.getAttribute("data-live"));
    source.addEventListener("changed", function () { swap(section); });
    source.addEventListener("signed-out", function () { source.close(); window.location.reload(); });
    source.addEventListener("end", function () { source.close(); });
  }

  function follow(pre) {
    var source = new EventSource(pre.getAttribute("data-follow"));
    var state = document.getElementById("log-state");
    var started = false;
    source.addEventListener("log", function (e) {
      var d = JSON.parse(e.data);
      var atEnd = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
      if (d.reset !== undefined) { pre.textContent = d.reset; }
      else { if (!started) { pre.textContent = ""; } pre.textContent += d.text; }
      started = true;
      if (atEnd) { pre.scrollTop = pre.scrollHeight; }
    });
    source.addEventListener("state", function (e) {
      var s = JSON.parse(e.data).state;
      if (state) { state.textContent = s; state.className = "state state-" + s; }
    });
    source.addEventListener("end", function () { source.close(); pre.setAttribute("data-ended", "true"); });
    source.addEventListener("signed-out", function () { source.close(); window.location.reload(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(live);
    document.querySelectorAll("pre[data-follow]").forEach(follow);
  });
})();
