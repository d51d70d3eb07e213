// moat dashboard: live updates over Server-Sent Events, and busy "run now"
// buttons. Plain JavaScript, no dependencies; the server renders every
// fragment (already HTML-escaped), this file only swaps it in.
(function () {
  "use strict";

  function setState(text, cls) {
    var el = document.getElementById("live-state");
    if (!el) return;
    el.textContent = text;
    el.className = "live-state " + cls;
    document.body.setAttribute("data-live-state", cls);
  }

  // startLive streams the page's live region: /api/stream?view=V plus the
  // page's own query (the events filter). EventSource reconnects by itself.
  function startLive() {
    var region = document.getElementById("live");
    if (!region || !window.EventSource) return;
    var query = window.location.search ? "&" + window.location.search.slice(1) : "";
    // The first page of events is live; older pages stay as they are.
    if (/[?&]before=/.test(window.location.search)) {
      setState("not live", "off");
      return;
    }
    var src = new EventSource("/api/stream?view=" + encodeURIComponent(region.dataset.live) + query);
    src.addEventListener("open", function () { setState("live", "open"); });
    src.addEventListener("update", function (ev) {
      if (region.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
      region.innerHTML = ev.data;
      region.setAttribute("data-updated", String(Date.now()));
      setState("live", "open");
    });
    src.addEventListener("error", function (ev) {
      if (ev.data) {
        setState("update failed: " + ev.data, "error");
      } else {
        setState("reconnecting…", "retry");
      }
    });
    window.addEventListener("pagehide", function () { src.close(); });
  }

  // Run-now forms post normally; the button says the report is running and
  // cannot be pressed twice.
  function busyForms() {
    document.addEventListener("submit", function (ev) {
      var form = ev.target;
      if (!form.classList || !form.classList.contains("run-now")) return;
      var button = form.querySelector("button");
      if (!button) return;
      if (button.disabled) { ev.preventDefault(); return; }
      button.textContent = "Running…";
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startLive();
    busyForms();
  });
})();
