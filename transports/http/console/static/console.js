// deno-lint-ignore-file -- a browser script (ES5, globals of the page), not a Deno module
// The console's only script (the Content-Security-Policy allows no inline script): CSRF header
// on htmx requests, live refresh of [data-live] regions on server-sent events, confirmations,
// and the metrics charts (uPlot).
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (csrf) e.detail.headers["X-CSRF-Token"] = csrf;
  });

  // Forms that ask first (skip, delete): data-confirm holds the question.
  document.addEventListener("submit", function (e) {
    var q = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) e.preventDefault();
  });

  var pending = false;
  // A region is not replaced while the operator works in it: a field has focus, or holds text
  // they typed (a skip reason outlives its focus: a refresh between the click on "Skip head" and
  // the submit would swap in an empty form under the click, and the reason would be lost).
  function busy(region) {
    var a = document.activeElement;
    if (
      a && region.contains(a) && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" ||
        a.tagName === "SELECT")
    ) return true;
    var fields = region.querySelectorAll("input, textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].type !== "hidden" && fields[i].value !== fields[i].defaultValue) return true;
    }
    return false;
  }
  // Says the region is behind, until a refresh once the focus leaves replaces it.
  function markBehind(region) {
    pending = true;
    region.setAttribute("data-refresh-pending", "");
  }
  function refresh() {
    var regions = document.querySelectorAll("[data-live][id]");
    for (var i = 0; i < regions.length; i++) {
      var r = regions[i];
      if (busy(r)) {
        markBehind(r);
        continue;
      }
      // Checked again when the answer comes (below): the operator may start typing meanwhile.
      r.setAttribute("data-refreshing", "");
      window.htmx.ajax("GET", window.location.href, {
        target: "#" + r.id,
        select: "#" + r.id,
        swap: "outerHTML",
      });
    }
    if (document.getElementById("charts")) loadCharts();
  }
  // A refresh answered after the operator began typing in its region is not swapped in: the
  // region says it is behind, and refreshes once the focus leaves it (as when busy at the start).
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (!target || !target.hasAttribute || !target.hasAttribute("data-refreshing")) return;
    target.removeAttribute("data-refreshing");
    if (!busy(target)) return;
    e.detail.shouldSwap = false;
    markBehind(target);
  });
  document.addEventListener("focusout", function () {
    if (pending) {
      pending = false;
      setTimeout(refresh, 0);
    }
  });
  if (document.querySelector("[data-live]") || document.getElementById("charts")) {
    var source = new EventSource("/console/events");
    source.addEventListener("change", refresh);
  }

  // Metrics: one chart per series group, data from /console/metrics/data.json.
  var plots = [];
  function loadCharts() {
    var box = document.getElementById("charts");
    var range = box.getAttribute("data-range") || "hour";
    fetch("/console/metrics/data.json?range=" + encodeURIComponent(range), {
      credentials: "same-origin",
    }).then(function (r) {
      return r.json();
    }).then(function (data) {
      for (var i = 0; i < plots.length; i++) plots[i].destroy();
      plots = [];
      box.textContent = "";
      data.charts.forEach(function (chart) {
        var h = document.createElement("h2");
        h.textContent = chart.title;
        box.appendChild(h);
        var holder = document.createElement("div");
        holder.className = "chart";
        box.appendChild(holder);
        if (chart.series.length === 0) {
          var p = document.createElement("p");
          p.className = "muted";
          p.textContent = "no data in this range";
          holder.appendChild(p);
          return;
        }
        var series = [{}].concat(chart.series.map(function (s, n) {
          return { label: s.label, stroke: palette[n % palette.length], width: 1.5 };
        }));
        var values = [data.times].concat(chart.series.map(function (s) {
          return s.values;
        }));
        var width = Math.max(320, Math.min(box.clientWidth, 1200));
        plots.push(new window.uPlot({ width: width, height: 220, series: series }, values, holder));
      });
    });
  }
  var palette = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777"];
  if (document.getElementById("charts")) loadCharts();
})();
