// cronwatch dashboard: times in the viewer's timezone, the overview's live refresh, and the
// job page's runtime chart. Plain ES2017, no build step; loaded with `defer`, so the document
// is parsed when this runs. It reads data only from the page (the JSON block #chart-data and
// <time datetime> attributes) and writes text only with textContent: nothing it handles is
// ever parsed as HTML or code.
(function () {
  "use strict";

  var REFRESH_MS = 10000;
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  // -- times ---------------------------------------------------------------------------------
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  var formatter = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
  });

  // <time data-local="text">: the text becomes the viewer's local time; data-local="title":
  // the text stays (e.g. "5m ago") and the tooltip shows the local time.
  function localize(scope) {
    scope.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      var text = formatter.format(when);
      if (el.getAttribute("data-local") === "text") {
        el.textContent = text;
        el.title = when.toISOString().replace(".000Z", "Z");
      } else {
        el.title = text;
      }
      el.setAttribute("data-zone", zone);
    });
    scope.querySelectorAll(".viewer-zone").forEach(function (el) { el.textContent = zone; });
    // The snooze forms: "tomorrow 09:00" and a chosen time are on the viewer's wall clock.
    scope.querySelectorAll("input.viewer-tz").forEach(function (el) {
      if (zone !== "local time") el.value = zone;
    });
  }

  localize(document);
  var note = document.getElementById("tz-note");
  if (note) note.textContent = "Times are in your timezone (" + zone + ") unless marked.";

  // -- live refresh --------------------------------------------------------------------------
  // htmx re-fetches each [data-refresh] element on "cw:refresh"; fired here rather than with
  // `every 10s` so that a hidden tab costs the server nothing.
  setInterval(function () {
    if (document.hidden || !window.htmx) return;
    document.querySelectorAll("[data-refresh]").forEach(function (el) {
      // Not while a row's actions are open: the refresh would fold them away.
      if (el.querySelector("details.row-actions[open]")) return;
      window.htmx.trigger(el, "cw:refresh");
    });
  }, REFRESH_MS);

  document.addEventListener("htmx:load", function (event) { localize(event.detail.elt); });
  function stale(event) {
    var el = event.detail && event.detail.elt;
    if (el && el.hasAttribute && el.hasAttribute("data-refresh")) el.classList.add("stale");
  }
  document.addEventListener("htmx:sendError", stale);
  document.addEventListener("htmx:responseError", stale);

  // -- runtime chart -------------------------------------------------------------------------
  function duration(seconds) {
    if (seconds == null || isNaN(seconds)) return "—";
    if (seconds < 1) return Math.round(seconds * 1000) + "ms";
    if (seconds < 60) return Math.round(seconds * 10) / 10 + "s";
    var m = Math.floor(seconds / 60);
    if (m < 60) return m + "m " + Math.floor(seconds % 60) + "s";
    var h = Math.floor(m / 60);
    if (h < 24) return h + "h " + (m % 60) + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  // Ticks at round durations (5ms, 1s, 1m, 5m, 1h, ...), never at 2h 13m: the step is the
  // first of these that gives at most six ticks, and the top of the scale a whole number of
  // steps. Sub-second steps keep a 4 ms job from being drawn on a scale of 2 s.
  var STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
               1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400, 172800, 604800];
  function niceStep(top) {
    for (var i = 0; i < STEPS.length; i++) if (top / STEPS[i] <= 6) return STEPS[i];
    return Math.ceil(top / 6 / 604800) * 604800;
  }
  function tickLabel(seconds) {
    if (seconds === 0) return "0";
    if (seconds < 1) return Math.round(seconds * 1000) + "ms";
    if (seconds < 60 && Math.abs(seconds - Math.round(seconds)) > 1e-6) {
      return Math.round(seconds * 1000) / 1000 + "s";  // 1.5s, on a scale of 0.5 s steps
    }
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
    var m = Math.floor(seconds % 3600 / 60), s = Math.round(seconds % 60);
    var parts = [];
    if (d) parts.push(d + "d");
    if (h) parts.push(h + "h");
    if (m) parts.push(m + "m");
    if (s) parts.push(s + "s");
    return parts.join(" ");
  }

  function constant(length, value) {
    var out = new Array(length);
    for (var i = 0; i < length; i++) out[i] = value;
    return out;
  }

  function drawChart() {
    var holder = document.getElementById("chart");
    var source = document.getElementById("chart-data");
    if (!holder || !source || !window.uPlot) return;
    var d = JSON.parse(source.textContent);

    // One x axis for every marker: run starts and missed slots, in time order.
    var events = d.runs.map(function (r) {
      return { t: r[0], y: r[1], kind: r[2], host: r[3], exit: r[4] };
    });
    d.missed.forEach(function (t, i) {
      var host = d.missedOn ? d.missedOn[i] : null;
      events.push({ t: t, y: 0, kind: "missed", host: host });
    });
    events.sort(function (a, b) { return a.t - b.t; });
    if (!events.length) {
      holder.classList.add("chart-empty");
      holder.textContent = "Nothing to draw yet: no runs and no missed slots.";
      return;
    }
    function only(kind) {
      return events.map(function (e) { return e.kind === kind ? e.y : null; });
    }
    var xs = events.map(function (e) { return e.t; });
    var n = xs.length;
    var data = [xs, only("success"), only("failure"), only("running"), only("missed")];
    // Nothing hovered, or nothing of this series at the hovered point: an empty cell, not a
    // column of dashes.
    function detail(u, v, si, i) {
      if (v == null || i == null) return "";
      var e = events[i];
      var text = duration(v) + (e.host ? " on " + e.host : "");
      return e.exit != null && e.kind === "failure" ? text + " (exit " + e.exit + ")" : text;
    }
    var series = [
      { label: "time",
        value: function (u, v) { return v == null ? "" : formatter.format(new Date(v * 1000)); } },
      { label: "run", stroke: "#2563eb", width: 1.5, spanGaps: true,
        points: { show: true, size: 5, fill: "#2563eb" }, value: detail },
      { label: "failed", stroke: "#dc2626", paths: function () { return null; },
        points: { show: true, size: 9, fill: "#dc2626" }, value: detail },
      { label: "running", stroke: "#7c3aed", paths: function () { return null; },
        points: { show: true, size: 9, fill: "#ffffff", width: 2 }, value: detail },
      { label: "missed slot", stroke: "#ea580c", paths: function () { return null; },
        points: { show: true, size: 11, fill: "#ea580c" },
        value: function (u, v, si, i) {
          if (v == null || i == null) return "";
          return events[i].host ? "missed on " + events[i].host : "missed";
        } },
    ];
    var bands = [];
    // The scale fits the runs (and the learned band); a bound far above them would squash
    // them against the axis, so it is drawn at the top edge and its legend says so.
    var top = Math.max.apply(null, d.runs.map(function (r) { return r[1]; }).concat([0]));
    if (d.band) top = Math.max(top, d.band[1]);
    if (d.max != null && d.max <= top * 1.5) top = Math.max(top, d.max);
    if (d.min != null) top = Math.max(top, d.min);
    if (!(top > 0)) top = 1;  // only missed slots, or runs that took no time: a 1 s scale
    var step = niceStep(top * 1.08);
    var yMax = Math.ceil(top * 1.08 / step - 1e-9) * step;
    // Each tick a multiple of the step, not a running sum (0.1 + 0.2 is not 0.3).
    var yTicks = [];
    for (var k = 0; k * step <= yMax + step * 1e-6; k++) yTicks.push(k * step);
    // The scale as the page shows it, for readers of the page that cannot see a canvas
    // (the browser tests): the ticks' labels, bottom to top.
    holder.setAttribute("data-y-ticks", yTicks.map(tickLabel).join(","));
    function fixed(text) { return function () { return text; }; }
    if (d.band) {
      data.push(constant(n, d.band[0]), constant(n, d.band[1]));
      var line = { stroke: "rgba(22,163,74,0.55)", width: 1, dash: [4, 4], points: { show: false } };
      series.push(Object.assign({ label: "normal low", value: fixed(duration(d.band[0])) }, line));
      series.push(Object.assign({ label: "normal high", value: fixed(duration(d.band[1])) }, line));
      bands.push({ series: [series.length - 1, series.length - 2], fill: "rgba(22,163,74,0.12)" });
    }
    [["max", "max runtime"], ["min", "min runtime"]].forEach(function (bound) {
      var value = d[bound[0]];
      if (value == null) return;
      var above = value > yMax;
      data.push(constant(n, above ? yMax : value));
      series.push({ label: bound[1], stroke: "#b91c1c", width: above ? 2 : 1, dash: [6, 4],
                    points: { show: false },
                    value: fixed(tickLabel(value) + (above ? " (above the chart)" : "")) });
    });
    var start = Math.min(d.start, xs[0]);
    var end = Math.max(d.end, xs[n - 1]);
    if (end - start < 60) { start -= 30; end += 30; }

    function size() {
      return { width: Math.max(320, holder.clientWidth), height: 300 };
    }
    var options = Object.assign(size(), {
      series: series,
      bands: bands,
      scales: {
        x: { time: true, range: function () { return [start, end]; } },
        y: { range: function () { return [0, yMax]; } },
      },
      axes: [
        {},
        { label: "runtime", labelSize: 20, gap: 6,
          splits: function () { return yTicks; },
          values: function (u, splits) { return splits.map(tickLabel); },
          // As wide as the longest tick label, so that none is clipped.
          size: function (u, values) {
            var longest = 1;
            (values || []).forEach(function (v) { longest = Math.max(longest, String(v).length); });
            return 28 + longest * 8;
          } },
      ],
      legend: { live: true },
      cursor: { points: { size: 8 } },
    });
    var plot = new window.uPlot(options, data, holder);
    window.addEventListener("resize", function () { plot.setSize(size()); });
  }

  drawChart();
})();
