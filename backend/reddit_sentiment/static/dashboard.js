/*
 * Reddit sentiment dashboard. Reads only the public API under /api/v1 (same origin) and draws
 * its charts with Plotly (served by the app at /static/plotly.min.js). Refreshes itself every
 * 30 s, or every ?refresh=N seconds; Plotly.react updates the charts in place, without flicker.
 *
 * Every chart covers the chosen time range exactly (its x axis is the range, never one Plotly
 * guesses from the points), an empty bucket is a gap in a line, and a chart with nothing to
 * draw is replaced by a sentence saying what is missing.
 */
(() => {
  "use strict";

  const API = "/api/v1";
  const params = new URLSearchParams(window.location.search);
  const REFRESH_SECONDS = Number(params.get("refresh")) > 0 ? Number(params.get("refresh")) : 30;

  const HOUR_MS = 3600 * 1000;
  const DAY_MS = 24 * HOUR_MS;
  const BUCKET_MS = { hour: HOUR_MS, day: DAY_MS };
  const PRESETS = { "24h": DAY_MS, "48h": 2 * DAY_MS, "7d": 7 * DAY_MS, "30d": 30 * DAY_MS, "90d": 90 * DAY_MS, "365d": 365 * DAY_MS };
  const MAX_HOURLY_MS = 31 * DAY_MS; // longer ranges are drawn by day
  const SMOOTH_BUCKETS = { hour: 6, day: 7 }; // the rolling mean's width
  const TOP_SERIES = () => (window.innerWidth < 600 ? 3 : 5); // lines over time; the rest are one "other" line
  const TOP_LABEL_ROWS = 8; // rows of the label distribution; the rest are one "other" row
  const OTHER = "other";

  const LABELS = ["positive", "neutral", "negative"];
  const LABEL_COLORS = { positive: "#2f855a", neutral: "#a0a8b6", negative: "#c53030" };
  const PALETTE = ["#3b6ea5", "#d08c3a", "#7b68a6", "#3a9188", "#b5566b", "#6b8e23", "#8c6d46", "#5b7c99"];
  const OTHER_COLOR = "#8a94a6";
  const GRID = "#eef0f3";
  const AXIS_LINE = "#d5d9e0";
  const FONT = {
    family: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    size: 12,
    color: "#1f2933",
  };
  const PLOT_CONFIG = {
    displaylogo: false,
    responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toImage"],
  };
  const WINDOW_NAMES = { "1h": "hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days" };

  const state = {
    bucket: "hour",
    subreddit: "", // "" = all subreddits; applies to every section but the runs
    preset: "48h",
    custom: null, // {since, until} in ms when preset is "custom" or a jump to the data
    window: "24h",
    smooth: false,
    keyword: null,
    extent: null, // {since, until} in ms: where the stored items (under the filter) lie
    readiness: null,
    subreddits: [], // names known to the store, for the selector
    seq: { summary: 0, sentiment: 0, keyword: 0, trending: 0, keywords: 0, posts: 0 },
    posts: null, // the open posts list: {query, title, filter, cursor}
    firstLoad: true,
    jumped: false, // opened on the newest data because the last 48 hours were empty
  };

  // ---- helpers -------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(path, status) {
      super(`${path} answered HTTP ${status}`);
      this.status = status;
    }
  }

  async function getJSON(path, accept = [200]) {
    const response = await fetch(API + path, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!accept.includes(response.status)) throw new ApiError(path.split("?")[0], response.status);
    return response.json();
  }

  /** el("td", {class: "num", text: "3"}, child, ...): builds DOM nodes; text is never parsed as HTML. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const byId = (id) => document.getElementById(id);
  const integer = new Intl.NumberFormat("en-US");
  const fmtInt = (n) => (n === null || n === undefined ? "–" : integer.format(n));
  const fmtCompound = (x) => (x === null || x === undefined ? "–" : (x > 0 ? "+" : "") + x.toFixed(3));
  const tone = (x) => (x === null || x === undefined ? "neu" : x >= 0.05 ? "pos" : x <= -0.05 ? "neg" : "neu");
  const pad = (n) => String(n).padStart(2, "0");
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? "" : "s"}`;

  /** A time as local wall-clock text, the form Plotly's date axes expect. */
  function plotTime(ms) {
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtDateTime(value) {
    if (value === null || value === undefined) return "–";
    return new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function fmtDate(ms) {
    return new Date(ms).toLocaleDateString(undefined, { dateStyle: "medium" });
  }

  /** A window as text: dates only when it is whole days, else dates and times. */
  function fmtRange(since, until) {
    const midnight = (ms) => new Date(ms).getHours() === 0 && new Date(ms).getMinutes() === 0;
    if (midnight(since) && midnight(until) && until - since >= DAY_MS) {
      const last = fmtDate(until - 1);
      return until - since === DAY_MS ? last : `${fmtDate(since)} – ${last}`;
    }
    return `${fmtDateTime(since)} – ${fmtDateTime(until)}`;
  }

  function fmtBucket(start, bucket) {
    return bucket === "day" ? fmtDate(start) : `${fmtDateTime(start)} – ${new Date(start + HOUR_MS).toLocaleTimeString(undefined, { timeStyle: "short" })}`;
  }

  function ago(value) {
    if (!value) return "never";
    const seconds = Math.max(0, (Date.now() - new Date(value).getTime()) / 1000);
    if (seconds < 60) return "just now";
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    if (seconds < 30 * 86400) return `${Math.floor(seconds / 86400)} d ago`;
    return fmtDate(new Date(value).getTime());
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  }

  /** At most `n` characters: long subreddit names never push into a neighbour. */
  function shortName(name, n = 16) {
    return name.length > n ? `${name.slice(0, n - 1)}…` : name;
  }

  function redditLink(permalink, text) {
    const href = /^https?:\/\//.test(permalink) ? permalink : `https://www.reddit.com${permalink}`;
    return el("a", { href, target: "_blank", rel: "noopener noreferrer", title: text, text });
  }

  function badge(status) {
    return el("span", { class: `badge badge-${status}`, text: status });
  }

  function compoundCell(x, extraClass = "") {
    return el("td", { class: `num ${tone(x)} ${extraClass}`.trim(), text: fmtCompound(x) });
  }

  function table(headers, rows) {
    return el(
      "table",
      {},
      el("thead", {}, el("tr", {}, headers.map(([text, cls]) => el("th", { class: cls, text })))),
      el("tbody", {}, rows),
    );
  }

  /** Posts as a list: the title as a link, a line of details under it, a value on the right. */
  function postList(posts, details, value) {
    return el(
      "ol",
      { class: "posts" },
      posts.map((p) =>
        el(
          "li",
          {},
          el("div", { class: "post-text" }, redditLink(p.permalink, p.title || "(untitled)"), el("div", { class: "muted small", text: details(p) })),
          value(p),
        ),
      ),
    );
  }

  function scopeName() {
    return state.subreddit ? `r/${state.subreddit}` : "all subreddits";
  }

  function empty(text) {
    return el("p", { class: "empty", text });
  }

  // ---- the time range ------------------------------------------------------------------

  /** The range shown: {since, until} in ms (until exclusive) and the bucket it is drawn in. */
  function currentRange() {
    let range;
    if (state.preset === "custom" && state.custom) range = state.custom;
    else if (state.preset === "all" && state.extent) range = padded(state.extent);
    else {
      const until = Math.ceil((Date.now() + 1) / HOUR_MS) * HOUR_MS; // to the end of this hour
      range = { since: until - (PRESETS[state.preset] || PRESETS["48h"]), until };
    }
    const bucket = range.until - range.since > MAX_HOURLY_MS ? "day" : state.bucket;
    if (bucket === "day") {
      // Whole (UTC) days, as the day buckets are: no bucket cut at either end of the axis.
      range = { since: Math.floor(range.since / DAY_MS) * DAY_MS, until: Math.ceil(range.until / DAY_MS) * DAY_MS };
    }
    return { ...range, bucket };
  }

  /** A data extent as a range of at least 48 hours, ending where the data ends. */
  function padded(extent) {
    return { since: Math.min(extent.since, extent.until - PRESETS["48h"]), until: extent.until };
  }

  /** The range that shows the newest stored data: up to 30 days of it. */
  function newestDataRange(extent) {
    const since = Math.max(extent.since, extent.until - PRESETS["30d"]);
    return padded({ since, until: extent.until });
  }

  function windowQuery(range, extra = {}) {
    const query = new URLSearchParams({ since: iso(range.since), until: iso(range.until), ...extra });
    if (state.subreddit) query.set("subreddit", state.subreddit);
    return query.toString();
  }

  function showRange(range, bucketed) {
    const bucketText = bucketed === "day" ? "daily" : "hourly";
    byId("range-text").textContent = `${scopeName()} · ${fmtRange(range.since, range.until)} · ${bucketText}`;
    for (const b of document.querySelectorAll("[data-bucket]")) {
      b.setAttribute("aria-pressed", String(b.dataset.bucket === bucketed));
      b.disabled = b.dataset.bucket === "hour" && range.until - range.since > MAX_HOURLY_MS;
      b.title = b.disabled ? "Ranges longer than 31 days are drawn by day" : "";
    }
    if (state.preset === "custom" && state.custom) {
      const day = (ms) => { const d = new Date(ms); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; };
      byId("range-from").value = day(state.custom.since);
      byId("range-to").value = day(state.custom.until - 1);
    }
  }

  function jumpToNewestData() {
    if (!state.extent) return;
    state.custom = newestDataRange(state.extent);
    state.preset = "custom";
    state.bucket = state.custom.until - state.custom.since > 7 * DAY_MS ? "day" : "hour";
    byId("range-preset").value = "custom";
    byId("custom-range").hidden = false;
    reload();
  }

  /** The notice under the filters: what is missing, and the one action that helps. */
  function setNotice(text, action = null) {
    const box = byId("notice");
    box.hidden = !text;
    byId("notice-text").textContent = text || "";
    const button = byId("notice-action");
    button.hidden = !action;
    if (action) {
      button.textContent = action.label;
      button.onclick = action.run;
    }
  }

  /** "collection is not configured (set X, Y)" from readiness, or null when it is. */
  function notConfigured() {
    const collection = state.readiness && state.readiness.collection;
    if (!collection || collection.configured) return null;
    const reason = String(collection.reason || "").replace(/^collection not configured:\s*/, "");
    return reason ? `collection is not configured (${reason})` : "collection is not configured";
  }

  /** Why there is nothing to show, in one sentence (or null when there is data). */
  function missingData(range, count) {
    if (!state.extent) {
      if (state.subreddit) return `Nothing stored for r/${state.subreddit}.`;
      const collection = state.readiness && state.readiness.collection;
      if (collection && !collection.configured) return `No data yet: ${notConfigured()}; then restart the service.`;
      if (collection && collection.running) return "No data yet: the first collection is running.";
      if (collection && collection.next_run_at) return `No data yet: the first collection starts ${fmtDateTime(collection.next_run_at)}.`;
      return "No data yet: nothing has been collected.";
    }
    if (count > 0) return null;
    return `No items in ${scopeName()} from ${fmtRange(range.since, range.until)}. The newest are from ${fmtDateTime(state.extent.until - HOUR_MS)}.`;
  }

  /** The same, short, inside a chart's box (the notice above says the rest). */
  function chartMissing(range, count) {
    if (count > 0) return null;
    if (!state.extent) return state.subreddit ? `Nothing stored for r/${state.subreddit}.` : "Nothing collected yet.";
    return `No items in ${scopeName()} in this time range.`;
  }

  function emptyState(chartId, textId, text) {
    const chart = byId(chartId);
    const note = byId(textId);
    note.hidden = !text;
    note.textContent = text || "";
    if (text) {
      if (chart.data) Plotly.purge(chart);
      chart.hidden = true;
    } else {
      chart.hidden = false;
    }
    return Boolean(text);
  }

  // ---- the time series -----------------------------------------------------------------

  /** Buckets {start (ms), count, sum} summed over several series (the "other" line). */
  function sumSeries(list) {
    const byStart = new Map();
    for (const s of list) {
      for (const b of s.buckets) {
        const was = byStart.get(b.start) || { start: b.start, count: 0, sum: 0 };
        was.count += b.count;
        was.sum += b.sum;
        was.mean = was.sum / was.count;
        byStart.set(b.start, was);
      }
    }
    return [...byStart.values()].sort((a, b) => a.start - b.start);
  }

  function parseBuckets(buckets, countOf = (b) => b.count) {
    return buckets
      .map((b) => {
        const count = countOf(b);
        const mean = b.mean_compound === null ? 0 : b.mean_compound;
        return { start: Date.parse(b.start), count, sum: mean * count, mean };
      })
      .filter((b) => b.count > 0);
  }

  /** The top subreddits by volume in the range, and the rest as one series. */
  function topSeries(raw) {
    const series = raw.map((s) => ({ name: s.subreddit, buckets: parseBuckets(s.buckets) }));
    series.forEach((s) => (s.total = s.buckets.reduce((n, b) => n + b.count, 0)));
    series.sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
    const top = TOP_SERIES();
    const shown = series.slice(0, series.length > top + 1 ? top : top + 1);
    const rest = series.slice(shown.length);
    const out = shown.map((s, i) => ({ name: `r/${s.name}`, subreddit: s.name, color: PALETTE[i % PALETTE.length], buckets: s.buckets }));
    if (rest.length) {
      out.push({ name: `${OTHER} (${rest.length} subreddits)`, subreddit: null, color: OTHER_COLOR, buckets: sumSeries(rest) });
    }
    return out;
  }

  /** Volume-weighted rolling mean over the last `width` buckets (by time, not by point). */
  function smoothed(buckets, period, width) {
    return buckets.map((b, i) => {
      let count = 0;
      let sum = 0;
      for (let j = i; j >= 0 && buckets[j].start > b.start - width * period; j--) {
        count += buckets[j].count;
        sum += buckets[j].sum;
      }
      return { ...b, mean: sum / count, windowCount: count };
    });
  }

  /** x, y and counts with a null point in every run of empty buckets, so lines break there. */
  function withGaps(buckets, period, valueOf) {
    const x = [];
    const y = [];
    const counts = [];
    let previous = null;
    for (const b of buckets) {
      if (previous !== null && b.start - previous > period) {
        x.push(plotTime(previous + period));
        y.push(null);
        counts.push(0);
      }
      x.push(plotTime(b.start));
      y.push(valueOf(b));
      counts.push(b.count);
      previous = b.start;
    }
    return { x, y, counts };
  }

  /** Mean compound as lines (left axis) over volume as bars (right axis), one pair per series. */
  function timeSeriesFigure(series, range, revision, chartWidth) {
    const period = BUCKET_MS[range.bucket];
    const unit = range.bucket === "hour" ? "hour" : "day";
    const peak = Math.max(0, ...series.flatMap((s) => s.buckets.map((b) => b.count)));
    const traces = [];
    for (const s of series) {
      traces.push({
        type: "bar",
        name: `${s.name} volume`,
        legendgroup: s.name,
        showlegend: false,
        x: s.buckets.map((b) => plotTime(b.start)),
        y: s.buckets.map((b) => b.count),
        customdata: s.buckets.map((b) => [b.start, s.subreddit, plural(b.count, "item")]),
        xperiod: period,
        xperiodalignment: "middle",
        yaxis: "y",
        marker: { color: s.color, opacity: 0.22 },
        hovertemplate: `%{customdata[2]}<extra>${s.name}</extra>`,
      });
    }
    for (const s of series) {
      const points = state.smooth ? smoothed(s.buckets, period, SMOOTH_BUCKETS[range.bucket]) : s.buckets;
      const { x, y, counts } = withGaps(points, period, (b) => b.mean);
      const starts = withGaps(points, period, (b) => b.start).y;
      const what = (n) => (state.smooth ? `${SMOOTH_BUCKETS[range.bucket]}-${unit} rolling mean, ${plural(n, "item")}` : `mean of ${plural(n, "item")}`);
      const windowCounts = withGaps(points, period, (b) => (state.smooth ? b.windowCount : b.count)).y;
      traces.push({
        type: "scatter",
        mode: "lines+markers",
        name: s.name,
        legendgroup: s.name,
        x,
        y,
        customdata: counts.map((n, i) => [starts[i], s.subreddit, n, what(windowCounts[i] || 0)]),
        xperiod: period,
        xperiodalignment: "middle",
        yaxis: "y2",
        connectgaps: false,
        line: { color: s.color, width: 2 },
        marker: { color: s.color, size: 5 },
        hovertemplate: `%{y:+.3f} (%{customdata[3]})<extra>${s.name}</extra>`,
      });
    }
    const fig = {
      font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      margin: { l: 48, r: 44, t: 8, b: 32 },
      hoverlabel: { font: { family: FONT.family } },
      showlegend: series.length > 1,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 12 } },  // above: two-line date ticks never reach it
      barmode: "stack",
      bargap: 0.2,
      hovermode: "closest",
      uirevision: revision,
      xaxis: {
        type: "date",
        // The range asked for, not one inferred from the points: one bucket is a point in it.
        range: [plotTime(range.since), plotTime(range.until)],
        gridcolor: GRID,
        linecolor: AXIS_LINE,
        showline: true,
        nticks: Math.max(2, Math.floor(chartWidth / 130)),
        tickangle: 0,
        ticklabeloverflow: "hide past domain", // never under the y axes' labels
        automargin: true,
      },
      // The volume axis is the base one so the sentiment lines (overlaying) are drawn on top.
      yaxis: {
        title: { text: "items", standoff: 4 },
        side: "right",
        rangemode: "tozero",
        dtick: peak <= 5 ? 1 : undefined, // whole items only
        showgrid: false,
        zeroline: false,
        nticks: 6,
        fixedrange: true,
        automargin: true,
      },
      yaxis2: {
        title: { text: "mean compound", standoff: 4 },
        side: "left",
        overlaying: "y",
        range: [-1.05, 1.05],
        tick0: 0,
        dtick: 0.5,
        tickformat: "+.1f",
        gridcolor: GRID,
        zeroline: true,
        zerolinecolor: "#c4cad3",
        fixedrange: true,
        automargin: true,
      },
    };
    if (range.bucket === "day") {
      // Day buckets: ticks on whole days, each date written under its day.
      const days = Math.round((range.until - range.since) / DAY_MS);
      const step = Math.ceil(days / fig.xaxis.nticks);
      if (step <= 31) Object.assign(fig.xaxis, { dtick: step * DAY_MS, tick0: plotTime(range.since), tickformat: "%b %-d, %Y", ticklabelmode: "period" });
    }
    return { traces, layout: fig };
  }

  /** Plotly.react, then one click handler (a purged chart loses its listeners). */
  async function draw(chart, traces, fig, config, onClick) {
    await Plotly.react(chart, traces, fig, config);
    chart.removeAllListeners("plotly_click");
    chart.on("plotly_click", (event) => onClick(event, currentRange()));
  }

  // ---- sections ------------------------------------------------------------------------

  async function loadSummary(range) {
    const token = ++state.seq.summary;
    const [summary, readiness] = await Promise.all([
      getJSON(`/dashboard/summary?${windowQuery(range)}`),
      getJSON("/health/ready", [200, 503]),
    ]);
    if (token !== state.seq.summary) return null;
    state.readiness = readiness;
    state.extent = summary.data_since ? { since: Date.parse(summary.data_since), until: Date.parse(summary.data_until) } : null;

    byId("kpi-posts").textContent = fmtInt(summary.posts);
    byId("kpi-comments").textContent = fmtInt(summary.comments);
    const compound = byId("kpi-compound");
    compound.textContent = fmtCompound(summary.mean_compound);
    compound.className = `kpi-value ${tone(summary.mean_compound)}`;
    byId("kpi-subreddits").textContent = fmtInt(summary.subreddits.length);
    const run = summary.last_collection;
    byId("kpi-last-run").replaceChildren(
      ...(run ? [badge(run.status), el("span", { class: "muted", title: fmtDateTime(run.started_at), text: ago(run.started_at) })] : ["none yet"]),
    );
    for (const label of LABELS) {
      document.querySelector(`[data-label-total="${label}"]`).textContent = fmtInt(summary.labels[label]);
    }
    return summary;
  }

  /** Every stored subreddit for the selector, with its all-time volume. */
  async function loadSubredditNames() {
    const all = await getJSON("/dashboard/summary");
    const names = all.subreddits.map((s) => ({ name: s.subreddit, count: s.posts + s.comments }));
    names.sort((a, b) => a.name.localeCompare(b.name));
    const key = names.map((n) => n.name).join("\n");
    if (key === state.subreddits.map((n) => n.name).join("\n")) return;
    state.subreddits = names;
    byId("subreddit-list").replaceChildren(
      ...names.map((n) => el("option", { value: n.name, label: `r/${n.name} · ${plural(n.count, "item")}` })),
    );
  }

  function renderLabels(summary, range) {
    const total = LABELS.reduce((sum, label) => sum + summary.labels[label], 0);
    if (emptyState("chart-labels", "labels-empty", chartMissing(range, total))) return;
    const subs = summary.subreddits.map((s) => ({ ...s, total: LABELS.reduce((n, l) => n + s.labels[l], 0) }));
    subs.sort((a, b) => b.total - a.total || a.subreddit.localeCompare(b.subreddit));
    const top = subs.length > TOP_LABEL_ROWS + 1 ? subs.slice(0, TOP_LABEL_ROWS) : subs;
    const rest = subs.slice(top.length);
    const rows = [];
    if (subs.length > 1) rows.push({ name: "All", full: scopeName(), subreddit: "", labels: summary.labels });
    rows.push(...top.map((s) => ({ name: `r/${shortName(s.subreddit)}`, full: `r/${s.subreddit}`, subreddit: s.subreddit, labels: s.labels })));
    if (rest.length) {
      const labels = Object.fromEntries(LABELS.map((l) => [l, rest.reduce((n, s) => n + s.labels[l], 0)]));
      rows.push({ name: `Other (${rest.length})`, full: `${rest.length} other subreddits`, subreddit: null, labels });
    }
    const totals = rows.map((r) => LABELS.reduce((sum, label) => sum + r.labels[label], 0));
    const chart = byId("chart-labels");
    const plotWidth = Math.max(120, chart.clientWidth - 130);
    const traces = LABELS.map((label) => {
      const shares = rows.map((r, i) => (totals[i] ? (100 * r.labels[label]) / totals[i] : 0));
      return {
        type: "bar",
        orientation: "h",
        name: label,
        y: rows.map((r) => r.name),
        x: shares,
        customdata: rows.map((r, i) => [r.labels[label], r.full, r.subreddit, label, totals[i]]),
        // A percentage only where its bar is wide enough to hold it.
        text: shares.map((share) => ((share * plotWidth) / 100 >= 34 ? `${Math.round(share)}%` : "")),
        textposition: "inside",
        insidetextanchor: "middle",
        constraintext: "none",
        textfont: { color: "#ffffff", size: 11 },
        marker: { color: LABEL_COLORS[label] },
        hovertemplate: `%{customdata[1]}: %{customdata[0]} of %{customdata[4]} ${label} (%{x:.0f}%)<extra></extra>`,
      };
    });
    const height = Math.max(110, 44 + rows.length * 26);
    chart.style.height = `${height}px`;
    const fig = {
      font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      barmode: "stack",
      bargap: 0.3,
      showlegend: false,
      height,
      margin: { l: 8, r: 12, t: 4, b: 28 },
      hoverlabel: { font: { family: FONT.family } },
      xaxis: { range: [0, 100], dtick: 25, ticksuffix: "%", gridcolor: GRID, fixedrange: true },
      yaxis: { autorange: "reversed", fixedrange: true, automargin: true },
    };
    return draw(chart, traces, fig, { ...PLOT_CONFIG, displayModeBar: false }, onLabelClick);
  }

  async function loadSentiment(range) {
    const token = ++state.seq.sentiment;
    const data = await getJSON(`/dashboard/sentiment?${windowQuery(range, { bucket: range.bucket })}`);
    if (token !== state.seq.sentiment) return; // a newer request (other range/subreddit) won
    const series = topSeries(data.series);
    const count = series.reduce((n, s) => n + s.buckets.reduce((m, b) => m + b.count, 0), 0);
    const chart = byId("chart-sentiment");
    chart.dataset.bucket = range.bucket;
    chart.dataset.subreddit = state.subreddit;
    chart.dataset.since = iso(range.since);
    chart.dataset.until = iso(range.until);
    byId("sentiment-scope").textContent = series.length > TOP_SERIES() ? `top ${TOP_SERIES()} subreddits by volume, the rest as one line` : "";
    if (emptyState("chart-sentiment", "sentiment-empty", chartMissing(range, count))) return;
    chart.hidden = false;
    const { traces, layout: fig } = timeSeriesFigure(series, range, `${range.bucket}|${state.subreddit}|${range.since}|${range.until}`, chart.clientWidth);
    await draw(chart, traces, fig, PLOT_CONFIG, onSentimentClick);
  }

  async function loadTrending() {
    const container = byId("trending");
    const computed = byId("trending-computed");
    const token = ++state.seq.trending;
    const query = new URLSearchParams({ window: state.window });
    if (state.subreddit) query.set("subreddit", state.subreddit);
    const data = await getJSON(`/trending?${query}`);
    if (token !== state.seq.trending) return;
    const window = WINDOW_NAMES[data.window] || data.window;
    if (!data.computed_at) {
      computed.textContent = "";
      container.replaceChildren(empty("Not computed yet: the collector computes trending after each collection."));
      return;
    }
    const previous = `previous ${window}`;
    computed.textContent =
      `${scopeName()} · ${fmtInt(data.items_in_window)} items vs ${fmtInt(data.items_in_previous_window)} ` +
      `in the ${previous} · computed ${ago(data.computed_at)}`;
    computed.title = fmtDateTime(data.computed_at);
    if (!data.items_in_window && !data.items_in_previous_window) {
      const newest = state.extent ? ` The newest stored items are from ${fmtDateTime(state.extent.until - HOUR_MS)}.` : "";
      container.replaceChildren(empty(`Nothing was created in the last ${window} or the ${previous}: trending compares the latest items with the ones before them.${newest}`));
      return;
    }

    const block = (title, node) => el("div", { class: "trend-block" }, el("h3", { text: title }), node);
    const orEmpty = (items, build) => (items.length ? build(items) : empty("Nothing yet"));

    const terms = orEmpty(data.terms, (items) =>
      table(
        [["Term"], ["Mentions", "num"], ["Change", "num"]],
        items.slice(0, 8).map((t) => {
          const delta = t.count - t.previous_count;
          return el(
            "tr",
            {},
            el("td", { class: "title", text: t.term, title: t.term }),
            el("td", { class: "num", text: fmtInt(t.count) }),
            el("td", {
              class: `num ${delta > 0 ? "pos" : delta < 0 ? "neg" : "neu"}`,
              text: t.previous_count ? `${delta > 0 ? "+" : ""}${fmtInt(delta)}` : "new",
            }),
          );
        }),
      ),
    );
    const subreddits = orEmpty(data.subreddits, (items) =>
      table(
        [["Subreddit"], ["Mean", "num"], ["Change", "num"]],
        items.slice(0, 10).map((s) =>
          el(
            "tr",
            {},
            el("td", { class: "title", text: `r/${s.subreddit}`, title: `r/${s.subreddit}: ${fmtInt(s.count)} items` }),
            compoundCell(s.mean_compound),
            compoundCell(s.change),
          ),
        ),
      ),
    );
    const engagement = orEmpty(data.top_posts_by_engagement, (items) =>
      postList(
        items.slice(0, 5),
        (p) => `r/${p.subreddit} · score ${fmtInt(p.score)} · ${fmtInt(p.num_comments)} comments`,
        (p) => el("span", { class: "value", text: fmtInt(p.engagement), title: "engagement" }),
      ),
    );
    const shift = orEmpty(data.top_posts_by_sentiment_shift, (items) =>
      postList(
        items.slice(0, 5),
        (p) =>
          `r/${p.subreddit} · post ${fmtCompound(p.post_compound)} → ` +
          `comments ${fmtCompound(p.comments_mean_compound)} (${fmtInt(p.comments)})`,
        (p) => el("span", { class: `value ${tone(p.shift)}`, text: fmtCompound(p.shift), title: "shift" }),
      ),
    );
    container.replaceChildren(
      block("Rising terms", terms),
      block(`Subreddit mood vs ${previous}`, subreddits),
      block("Top posts by engagement", engagement),
      block("Biggest comment sentiment shift", shift),
    );
  }

  async function loadKeywords(range) {
    const token = ++state.seq.keywords;
    const query = state.subreddit ? `?subreddit=${encodeURIComponent(state.subreddit)}` : "";
    const data = await getJSON(`/keywords${query}`);
    if (token !== state.seq.keywords) return;
    const keywords = data.keywords;
    const container = byId("keywords-table");
    if (!keywords.length) {
      state.keyword = null;
      byId("keyword-selected").textContent = "";
      container.replaceChildren(empty("No keywords tracked. Set TRACK_KEYWORDS (e.g. $TSLA,python) to follow tickers or terms."));
      emptyState("chart-keyword", "keyword-empty", null);
      byId("chart-keyword").hidden = true;
      return;
    }
    if (!keywords.some((k) => k.keyword === state.keyword)) {
      state.keyword = (keywords.find((k) => k.mentions > 0) || keywords[0]).keyword;
    }
    container.replaceChildren(
      table(
        [["Keyword"], ["Mentions", "num"], ["Mean", "num"], ["Last seen", "num"]],
        keywords.map((k) =>
          el(
            "tr",
            {
              class: `selectable${k.keyword === state.keyword ? " selected" : ""}`,
              "data-keyword": k.keyword,
              tabindex: 0,
              onclick: () => selectKeyword(k.keyword),
              onkeydown: (event) => event.key === "Enter" && selectKeyword(k.keyword),
            },
            el("td", { class: "mono title", text: k.keyword, title: k.keyword }),
            el("td", { class: "num", text: fmtInt(k.mentions) }),
            compoundCell(k.mean_compound),
            el("td", { class: "num muted", text: ago(k.last_seen), title: fmtDateTime(k.last_seen) }),
          ),
        ),
      ),
    );
    await loadKeywordChart(range);
  }

  function selectKeyword(keyword) {
    state.keyword = keyword;
    for (const row of byId("keywords-table").querySelectorAll("tr[data-keyword]")) {
      row.classList.toggle("selected", row.dataset.keyword === keyword);
    }
    loadKeywordChart(currentRange()).catch(showError);
  }

  async function loadKeywordChart(range) {
    const token = ++state.seq.keyword;
    const { keyword } = state;
    if (!keyword) return;
    const data = await getJSON(`/keywords/${encodeURIComponent(keyword)}/sentiment?${windowQuery(range, { bucket: range.bucket })}`);
    if (token !== state.seq.keyword) return;
    byId("keyword-selected").textContent = `${keyword} in ${scopeName()} · ${range.bucket === "hour" ? "hourly" : "daily"}`;
    const buckets = parseBuckets(data.buckets);
    const count = buckets.reduce((n, b) => n + b.count, 0);
    let missing = chartMissing(range, count);
    if (state.extent && !count) missing = `No mentions of ${keyword} in ${scopeName()} from ${fmtRange(range.since, range.until)}.`;
    const chart = byId("chart-keyword");
    chart.dataset.keyword = keyword;
    if (emptyState("chart-keyword", "keyword-empty", missing)) return;
    const series = [{ name: keyword, subreddit: state.subreddit || null, color: PALETTE[0], buckets }];
    const { traces, layout: fig } = timeSeriesFigure(series, range, `${keyword}|${range.bucket}|${range.since}|${range.until}`, chart.clientWidth);
    fig.showlegend = false;
    await draw(chart, traces, fig, PLOT_CONFIG, onKeywordClick);
  }

  async function loadRuns() {
    const data = await getJSON("/collections?limit=10");
    const container = byId("runs");
    if (!data.items.length) {
      const why = notConfigured() ? `: ${notConfigured()}` : "";
      container.replaceChildren(empty(`No collection has run yet${why}.`));
      return;
    }
    const sum = (run, field) => Object.values(run.subreddits).reduce((total, c) => total + c[field], 0);
    const rows = data.items.map((run) => {
      const perSubreddit = Object.entries(run.subreddits)
        .map(([name, c]) => `r/${name}: ${c.fetched} fetched, ${c.new} new, ${c.updated} updated, ${c.failed} failed`)
        .join("\n");
      const errors = run.errors.length
        ? el(
            "details",
            {},
            el("summary", { text: `${run.errors.length} error${run.errors.length > 1 ? "s" : ""}` }),
            el("ul", {}, run.errors.map((e) => el("li", { text: `r/${e.subreddit} ${e.listing}: ${e.error} ${e.message}` }))),
          )
        : el("span", { class: "muted", text: "—" });
      return el(
        "tr",
        { "data-run-id": run.id },
        el("td", {}, badge(run.status)),
        el("td", { text: fmtDateTime(run.started_at), title: run.started_at }),
        el("td", { class: "mono wide-only", text: run.id }),
        el("td", { class: "muted wide-only", text: run.trigger }),
        el("td", { class: "num wide-only", text: fmtDuration(run.duration_seconds) }),
        el("td", { class: "num", text: fmtInt(sum(run, "fetched")), title: perSubreddit }),
        el("td", { class: "num", text: fmtInt(sum(run, "new")) }),
        el("td", { class: "num wide-only", text: fmtInt(sum(run, "updated")) }),
        el("td", { class: "num wide-only", text: fmtInt(sum(run, "failed")) }),
        el("td", {}, errors),
      );
    });
    container.replaceChildren(
      table(
        [["Status"], ["Started"], ["Run", "wide-only"], ["Trigger", "wide-only"], ["Duration", "num wide-only"], ["Fetched", "num"], ["New", "num"], ["Updated", "num wide-only"], ["Failed", "num wide-only"], ["Errors"]],
        rows,
      ),
    );
  }

  // ---- a bucket's posts ----------------------------------------------------------------

  /** List the posts of one bucket (or one label of a window), newest first, from /posts. */
  function openPosts(title, query, filter = null) {
    state.posts = { title, query, filter, cursor: null, shown: 0 };
    byId("posts").replaceChildren(empty("Loading…"));
    byId("posts-card").hidden = false;
    byId("posts-card").dataset.query = query === null ? "" : new URLSearchParams(query).toString();
    byId("posts-scope").textContent = title;
    byId("posts-more").hidden = true;
    if (query === null) byId("posts").replaceChildren();
    else loadPosts(true).catch(showError);
    byId("posts-card").scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  async function loadPosts(first) {
    const open = state.posts;
    const token = ++state.seq.posts;
    const query = new URLSearchParams({ ...open.query, limit: "25", sort: "score", order: "desc" });
    let items = [];
    let cursor = first ? null : open.cursor;
    // A keyword's posts are filtered here (the API filters by time and subreddit): read on
    // until a page's worth is found or there is nothing more.
    for (let pages = 0; pages < 4; pages++) {
      if (cursor) query.set("cursor", cursor);
      const page = await getJSON(`/posts?${query}`);
      items.push(...(open.filter ? page.items.filter(open.filter) : page.items));
      cursor = page.next_cursor;
      if (!open.filter || items.length >= 10 || !cursor) break;
    }
    if (token !== state.seq.posts || open !== state.posts) return;
    open.cursor = cursor;
    open.shown += items.length;
    const list = postList(
      items,
      (p) => `r/${p.subreddit} · ${fmtDateTime(p.created_at)} · score ${fmtInt(p.score)} · ${p.label}`,
      (p) => el("span", { class: `value ${tone(p.compound)}`, text: fmtCompound(p.compound), title: "compound" }),
    );
    const box = byId("posts");
    if (first) box.replaceChildren(open.shown ? list : empty("No posts: the items in it are comments (only posts are listed here)."));
    else box.append(list);
    byId("posts-more").hidden = !cursor;
  }

  function onSentimentClick(event, range) {
    const point = event.points && event.points[0];
    if (!point || !point.customdata) return;
    const [start, subreddit] = point.customdata;
    if (start === null || start === undefined) return;
    const until = start + BUCKET_MS[range.bucket];
    const query = { since: iso(start), until: iso(until) };
    const name = subreddit || state.subreddit;
    if (name) query.subreddit = name;
    const scope = name ? `r/${name}` : state.subreddit ? scopeName() : "all subreddits";
    openPosts(`Posts in ${scope}, ${fmtBucket(start, range.bucket)}, highest score first`, query);
  }

  function onKeywordClick(event, range) {
    const point = event.points && event.points[0];
    if (!point || !point.customdata || point.customdata[0] === null) return;
    const start = point.customdata[0];
    const keyword = state.keyword;
    const query = { since: iso(start), until: iso(start + BUCKET_MS[range.bucket]) };
    if (state.subreddit) query.subreddit = state.subreddit;
    openPosts(`Posts mentioning ${keyword} in ${scopeName()}, ${fmtBucket(start, range.bucket)}`, query, (p) => p.keywords.includes(keyword));
  }

  function onLabelClick(event, range) {
    const point = event.points && event.points[0];
    if (!point || !point.customdata) return;
    const [, full, subreddit, label] = point.customdata;
    if (subreddit === null) {
      openPosts(`Choose a subreddit to list the posts of the ${full}.`, null);
      return;
    }
    const query = { since: iso(range.since), until: iso(range.until), label };
    const name = subreddit || state.subreddit;
    if (name) query.subreddit = name;
    openPosts(`${label[0].toUpperCase()}${label.slice(1)} posts in ${full}, ${fmtRange(range.since, range.until)}, highest score first`, query);
  }

  // ---- refresh loop --------------------------------------------------------------------

  function describe(error) {
    return error instanceof ApiError ? error.message : "the service cannot be reached";
  }

  function showError(error) {
    const banner = byId("banner");
    banner.textContent = `Could not update: ${describe(error)}. Retrying automatically.`;
    banner.hidden = false;
  }

  async function refresh() {
    let range = currentRange();
    const outcomes = await Promise.allSettled([loadSummary(range), loadSubredditNames()]);
    let summary = outcomes[0].status === "fulfilled" ? outcomes[0].value : null;
    if (summary && state.firstLoad && state.extent && summary.posts + summary.comments === 0 && state.preset === "48h") {
      // The default window is empty but there is data: open on the newest of it.
      state.custom = newestDataRange(state.extent);
      state.preset = "custom";
      state.bucket = state.custom.until - state.custom.since > 7 * DAY_MS ? "day" : "hour";
      byId("range-preset").value = "custom";
      byId("custom-range").hidden = false;
      state.jumped = true;
      range = currentRange();
      const again = await Promise.allSettled([loadSummary(range)]);
      outcomes.push(...again);
      summary = again[0].status === "fulfilled" ? again[0].value : summary;
    }
    if (summary) state.firstLoad = false;
    showRange(range, range.bucket);
    if (summary) {
      outcomes.push(...(await Promise.allSettled([Promise.resolve().then(() => renderLabels(summary, range))])));
      const count = summary.posts + summary.comments;
      if (!state.extent || count === 0) {
        const text = missingData(range, count);
        setNotice(text, state.extent ? { label: "Show the newest data", run: jumpToNewestData } : null);
      } else if (state.jumped) {
        setNotice(`Nothing was collected in the last 48 hours, so this shows the newest stored data (${fmtRange(range.since, range.until)}).`, {
          label: "Show the last 48 hours",
          run: () => {
            state.jumped = false;
            state.preset = "48h";
            state.bucket = "hour";
            byId("range-preset").value = "48h";
            byId("custom-range").hidden = true;
            reload();
          },
        });
      } else {
        setNotice(null);
      }
    }
    outcomes.push(...(await Promise.allSettled([loadSentiment(range), loadTrending(), loadKeywords(range), loadRuns()])));
    const failures = outcomes.filter((o) => o.status === "rejected").map((o) => o.reason);
    const banner = byId("banner");
    if (failures.length) {
      for (const failure of failures) if (!(failure instanceof ApiError) && !(failure instanceof TypeError)) console.warn(failure);
      banner.textContent = `Could not update: ${[...new Set(failures.map(describe))].join("; ")}. Retrying in ${REFRESH_SECONDS} s.`;
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    byId("updated").textContent = `updated ${new Date().toLocaleTimeString()}, refreshes every ${REFRESH_SECONDS} s`;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
  }

  let timer = null;
  let running = null;

  async function loop() {
    window.clearTimeout(timer);
    try {
      if (!document.hidden || document.body.dataset.refreshes === "0") {
        running = refresh();
        await running;
      }
    } finally {
      running = null;
      timer = window.setTimeout(loop, REFRESH_SECONDS * 1000);
    }
  }

  /** Redraw now for new filters (after a refresh in flight, if any). */
  function reload() {
    Promise.resolve(running).finally(loop);
  }

  function selectSubreddit(value) {
    const name = value.trim().replace(/^\/?r\//i, "").toLowerCase();
    const known = state.subreddits.some((s) => s.name === name);
    const next = name && known ? name : "";
    const input = byId("subreddit-input");
    input.setCustomValidity(name && !known ? "No such subreddit stored" : "");
    if (name && !known) {
      input.reportValidity();
      return;
    }
    if (next === state.subreddit) return;
    state.subreddit = next;
    state.jumped = false;
    reload();
  }

  function start() {
    if (!window.Plotly) {
      const banner = byId("banner");
      banner.textContent = "The chart library (/static/plotly.min.js) did not load.";
      banner.hidden = false;
      return;
    }
    for (const button of document.querySelectorAll("[data-bucket]")) {
      button.addEventListener("click", () => {
        state.bucket = button.dataset.bucket;
        reload();
      });
    }
    const input = byId("subreddit-input");
    input.addEventListener("change", () => selectSubreddit(input.value));
    // A name picked from the list (or typed out in full) applies at once.
    input.addEventListener("input", () => {
      const name = input.value.trim().replace(/^\/?r\//i, "").toLowerCase();
      if (state.subreddits.some((s) => s.name === name)) selectSubreddit(name);
    });
    input.addEventListener("search", () => selectSubreddit(input.value)); // the clear button
    byId("range-preset").addEventListener("change", (event) => {
      state.preset = event.target.value;
      state.jumped = false;
      byId("custom-range").hidden = state.preset !== "custom";
      if (state.preset === "custom") {
        if (!state.custom) state.custom = { since: currentRange().since, until: currentRange().until };
        showRange(state.custom, state.bucket);
        return;
      }
      reload();
    });
    byId("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      const from = byId("range-from").value;
      const to = byId("range-to").value;
      if (!from || !to) return;
      const since = new Date(`${from}T00:00:00`).getTime();
      const until = new Date(`${to}T00:00:00`).getTime() + DAY_MS;
      if (!(since < until)) {
        byId("range-to").setCustomValidity("The end must not be before the start");
        byId("range-to").reportValidity();
        return;
      }
      byId("range-to").setCustomValidity("");
      state.preset = "custom";
      state.custom = { since, until };
      state.jumped = false;
      reload();
    });
    byId("smooth").addEventListener("change", (event) => {
      state.smooth = event.target.checked;
      reload();
    });
    byId("trending-window").addEventListener("change", (event) => {
      state.window = event.target.value;
      loadTrending().catch(showError);
    });
    byId("posts-close").addEventListener("click", () => {
      state.posts = null;
      byId("posts-card").hidden = true;
    });
    byId("posts-more").addEventListener("click", () => loadPosts(false).catch(showError));
    loop();
  }

  start();
})();
