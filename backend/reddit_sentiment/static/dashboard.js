/*
 * Reddit sentiment dashboard. Reads only the public API under /api/v1 (same origin) and draws
 * its charts with Plotly (served by the app at /static/plotly.min.js). Refreshes itself every
 * 30 s, or every ?refresh=N seconds; Plotly.react updates the charts in place, without flicker.
 */
(() => {
  "use strict";

  const API = "/api/v1";
  const params = new URLSearchParams(window.location.search);
  const REFRESH_SECONDS = Number(params.get("refresh")) > 0 ? Number(params.get("refresh")) : 30;

  const LABELS = ["positive", "neutral", "negative"];
  const LABEL_COLORS = { positive: "#2f855a", neutral: "#a0a8b6", negative: "#c53030" };
  const PALETTE = ["#3b6ea5", "#d08c3a", "#7b68a6", "#3a9188", "#b5566b", "#6b8e23", "#8c6d46", "#5b7c99"];
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
  const BUCKET_MS = { hour: 3600 * 1000, day: 24 * 3600 * 1000 };
  const WINDOW_NAMES = { "1h": "hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days" };

  const state = {
    bucket: "hour",
    subreddit: "", // "" = all subreddits; applies to the time series, trending and keywords
    window: "24h",
    keyword: null,
    colors: new Map(),
    seq: { sentiment: 0, keyword: 0, trending: 0, keywords: 0 },
  };

  // ---- helpers -------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(path, status) {
      super(`${path} answered HTTP ${status}`);
      this.status = status;
    }
  }

  async function getJSON(path) {
    const response = await fetch(API + path, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) throw new ApiError(path, response.status);
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

  /** A UTC timestamp as local wall-clock time, the form Plotly's date axes expect. */
  function plotTime(iso) {
    const d = new Date(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtDateTime(iso) {
    return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "–";
  }

  function ago(iso) {
    if (!iso) return "never";
    const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (seconds < 60) return "just now";
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return `${Math.floor(seconds / 86400)} d ago`;
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  }

  function colorOf(subreddit) {
    if (!state.colors.has(subreddit)) state.colors.set(subreddit, PALETTE[state.colors.size % PALETTE.length]);
    return state.colors.get(subreddit);
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
          el("div", { class: "post-text" }, redditLink(p.permalink, p.title), el("div", { class: "muted small", text: details(p) })),
          value(p),
        ),
      ),
    );
  }

  /** The query string for the current subreddit filter plus extra parameters. */
  function scoped(extra = {}) {
    const query = new URLSearchParams(extra);
    if (state.subreddit) query.set("subreddit", state.subreddit);
    return query.toString();
  }

  function scopeName() {
    return state.subreddit ? `r/${state.subreddit}` : "all subreddits";
  }

  function empty(text) {
    return el("p", { class: "empty", text });
  }

  function layout(extra) {
    return {
      font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      margin: { l: 52, r: 52, t: 28, b: 36 },
      hoverlabel: { font: { family: FONT.family } },
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 12 } },
      ...extra,
    };
  }

  function noDataAnnotation(show, text) {
    return show
      ? [{ text, showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { color: "#6b7280", size: 13 } }]
      : [];
  }

  /** Mean compound as lines (left axis) over volume as bars (right axis), one pair per series. */
  function timeSeriesFigure(series, bucket, revision) {
    const period = BUCKET_MS[bucket];
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
        xperiod: period,
        xperiodalignment: "middle",
        yaxis: "y",
        marker: { color: s.color, opacity: 0.22 },
        hovertemplate: `%{y} items<extra>${s.name}</extra>`,
      });
    }
    for (const s of series) {
      traces.push({
        type: "scatter",
        mode: "lines+markers",
        name: s.name,
        legendgroup: s.name,
        x: s.buckets.map((b) => plotTime(b.start)),
        y: s.buckets.map((b) => b.mean_compound),
        xperiod: period,
        xperiodalignment: "middle",
        yaxis: "y2",
        connectgaps: true,
        line: { color: s.color, width: 2 },
        marker: { color: s.color, size: 5 },
        hovertemplate: `%{y:+.3f}<extra>${s.name}</extra>`,
      });
    }
    const fig = layout({
      barmode: "stack",
      bargap: 0.2,
      hovermode: "x unified",
      uirevision: revision,
      xaxis: { type: "date", gridcolor: GRID, linecolor: AXIS_LINE, showline: true },
      // The volume axis is the base one so the sentiment lines (overlaying) are drawn on top.
      yaxis: {
        title: { text: "items" },
        side: "right",
        rangemode: "tozero",
        dtick: peak <= 5 ? 1 : undefined, // whole items only
        showgrid: false,
        zeroline: false,
      },
      yaxis2: {
        title: { text: "mean compound" },
        side: "left",
        overlaying: "y",
        range: [-1.05, 1.05],
        tick0: 0,
        dtick: 0.5,
        tickformat: "+.1f",
        gridcolor: GRID,
        zeroline: true,
        zerolinecolor: "#c4cad3",
      },
      annotations: noDataAnnotation(!series.some((s) => s.buckets.length), "No items in this time window yet"),
    });
    return { traces, layout: fig };
  }

  // ---- sections ------------------------------------------------------------------------

  async function loadSummary() {
    const summary = await getJSON("/dashboard/summary");
    [...summary.subreddits].map((s) => s.subreddit).sort().forEach(colorOf);

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
    updateSubredditSelect(summary.subreddits.map((s) => s.subreddit));
    renderLabels(summary);
  }

  function updateSubredditSelect(names) {
    const select = byId("subreddit-select");
    const have = [...select.options].map((o) => o.value).slice(1);
    const want = [...names].sort();
    if (have.join("\n") === want.join("\n")) return;
    select.replaceChildren(
      el("option", { value: "", text: "All subreddits" }),
      ...want.map((name) => el("option", { value: name, text: `r/${name}` })),
    );
    select.value = want.includes(state.subreddit) ? state.subreddit : "";
  }

  function renderLabels(summary) {
    const rows = [
      { name: "All", labels: summary.labels },
      ...summary.subreddits.map((s) => ({ name: `r/${s.subreddit}`, labels: s.labels })),
    ];
    const totals = rows.map((r) => LABELS.reduce((sum, label) => sum + r.labels[label], 0));
    const traces = LABELS.map((label) => {
      const shares = rows.map((r, i) => (totals[i] ? (100 * r.labels[label]) / totals[i] : 0));
      return {
        type: "bar",
        orientation: "h",
        name: label,
        y: rows.map((r) => r.name),
        x: shares,
        customdata: rows.map((r) => r.labels[label]),
        text: shares.map((share) => (share >= 9 ? `${Math.round(share)}%` : "")),
        textposition: "inside",
        insidetextanchor: "middle",
        textfont: { color: "#ffffff", size: 11 },
        marker: { color: LABEL_COLORS[label] },
        hovertemplate: `%{customdata} ${label} (%{x:.0f}%)<extra>%{y}</extra>`,
      };
    });
    const fig = layout({
      barmode: "stack",
      bargap: 0.35,
      showlegend: false,
      margin: { l: 96, r: 16, t: 8, b: 32 },
      xaxis: { range: [0, 100], dtick: 25, ticksuffix: "%", gridcolor: GRID, fixedrange: true },
      yaxis: { autorange: "reversed", fixedrange: true },
      annotations: noDataAnnotation(!totals[0], "Nothing collected yet"),
    });
    return Plotly.react("chart-labels", traces, fig, { ...PLOT_CONFIG, displayModeBar: false });
  }

  async function loadSentiment() {
    const token = ++state.seq.sentiment;
    const { bucket, subreddit } = state;
    const data = await getJSON(`/dashboard/sentiment?${scoped({ bucket })}`);
    if (token !== state.seq.sentiment) return; // a newer request (other bucket/subreddit) won
    const series = data.series.map((s) => ({ name: `r/${s.subreddit}`, color: colorOf(s.subreddit), buckets: s.buckets }));
    const { traces, layout: fig } = timeSeriesFigure(series, bucket, `${bucket}|${subreddit}`);
    await Plotly.react("chart-sentiment", traces, fig, PLOT_CONFIG);
    const chart = byId("chart-sentiment");
    chart.dataset.bucket = bucket;
    chart.dataset.subreddit = subreddit;
    byId("sentiment-scope").textContent = `${scopeName()} · ${bucket === "hour" ? "last 48 hours, hourly" : "last 30 days, daily"}`;
  }

  async function loadTrending() {
    const container = byId("trending");
    const computed = byId("trending-computed");
    const token = ++state.seq.trending;
    const data = await getJSON(`/trending?${scoped({ window: state.window })}`);
    if (token !== state.seq.trending) return;
    if (!data.computed_at) {
      computed.textContent = "";
      container.replaceChildren(empty("Not computed yet: trending is computed after each collection from the stored items."));
      return;
    }
    const previous = `previous ${WINDOW_NAMES[data.window] || data.window}`;
    computed.textContent =
      `${scopeName()} · ${fmtInt(data.items_in_window)} items vs ${fmtInt(data.items_in_previous_window)} ` +
      `in the ${previous} · computed ${ago(data.computed_at)}`;
    computed.title = fmtDateTime(data.computed_at);

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
        items.map((s) =>
          el(
            "tr",
            {},
            el("td", { class: "title", text: `r/${s.subreddit}`, title: `${fmtInt(s.count)} items` }),
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

  async function loadKeywords() {
    const token = ++state.seq.keywords;
    const data = await getJSON(`/keywords?${scoped()}`);
    if (token !== state.seq.keywords) return;
    const keywords = data.keywords;
    const container = byId("keywords-table");
    const chart = byId("chart-keyword");
    if (!keywords.length) {
      state.keyword = null;
      byId("keyword-selected").textContent = "";
      container.replaceChildren(empty("No keywords tracked. Set TRACK_KEYWORDS (e.g. $TSLA,python) to follow tickers or terms."));
      chart.hidden = true;
      Plotly.purge(chart);
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
            el("td", { class: "mono", text: k.keyword }),
            el("td", { class: "num", text: fmtInt(k.mentions) }),
            compoundCell(k.mean_compound),
            el("td", { class: "num muted", text: ago(k.last_seen), title: fmtDateTime(k.last_seen) }),
          ),
        ),
      ),
    );
    chart.hidden = false;
    await loadKeywordChart();
  }

  function selectKeyword(keyword) {
    state.keyword = keyword;
    for (const row of byId("keywords-table").querySelectorAll("tr[data-keyword]")) {
      row.classList.toggle("selected", row.dataset.keyword === keyword);
    }
    loadKeywordChart().catch(showError);
  }

  async function loadKeywordChart() {
    const token = ++state.seq.keyword;
    const { keyword, bucket } = state;
    if (!keyword) return;
    const data = await getJSON(`/keywords/${encodeURIComponent(keyword)}/sentiment?${scoped({ bucket })}`);
    if (token !== state.seq.keyword) return;
    byId("keyword-selected").textContent = `${keyword} in ${scopeName()} · ${bucket === "hour" ? "hourly" : "daily"}`;
    const series = [{ name: keyword, color: PALETTE[0], buckets: data.buckets }];
    const { traces, layout: fig } = timeSeriesFigure(series, bucket, `${keyword}|${bucket}`);
    fig.showlegend = false;
    fig.margin = { ...fig.margin, t: 8 };
    await Plotly.react("chart-keyword", traces, fig, PLOT_CONFIG);
    byId("chart-keyword").dataset.keyword = keyword;
  }

  async function loadRuns() {
    const data = await getJSON("/collections?limit=10");
    const container = byId("runs");
    if (!data.items.length) {
      container.replaceChildren(empty("No collection has run yet."));
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
        el("td", { class: "mono", text: run.id }),
        el("td", { class: "muted", text: run.trigger }),
        el("td", { class: "num", text: fmtDuration(run.duration_seconds) }),
        el("td", { class: "num", text: fmtInt(sum(run, "fetched")), title: perSubreddit }),
        el("td", { class: "num", text: fmtInt(sum(run, "new")) }),
        el("td", { class: "num", text: fmtInt(sum(run, "updated")) }),
        el("td", { class: "num", text: fmtInt(sum(run, "failed")) }),
        el("td", {}, errors),
      );
    });
    container.replaceChildren(
      table(
        [["Status"], ["Started"], ["Run"], ["Trigger"], ["Duration", "num"], ["Fetched", "num"], ["New", "num"], ["Updated", "num"], ["Failed", "num"], ["Errors"]],
        rows,
      ),
    );
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
    const outcomes = [await Promise.allSettled([loadSummary()])];
    outcomes.push(await Promise.allSettled([loadSentiment(), loadTrending(), loadKeywords(), loadRuns()]));
    const failures = outcomes.flat().filter((o) => o.status === "rejected").map((o) => o.reason);
    const banner = byId("banner");
    if (failures.length) {
      banner.textContent = `Could not update: ${[...new Set(failures.map(describe))].join("; ")}. Retrying in ${REFRESH_SECONDS} s.`;
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    byId("updated").textContent = `updated ${new Date().toLocaleTimeString()}, refreshes every ${REFRESH_SECONDS} s`;
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
  }

  async function loop() {
    try {
      if (!document.hidden || document.body.dataset.refreshes === "0") await refresh();
    } finally {
      window.setTimeout(loop, REFRESH_SECONDS * 1000);
    }
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
        for (const b of document.querySelectorAll("[data-bucket]")) b.setAttribute("aria-pressed", String(b === button));
        loadSentiment().catch(showError);
        loadKeywordChart().catch(showError);
      });
    }
    byId("subreddit-select").addEventListener("change", (event) => {
      state.subreddit = event.target.value;
      loadSentiment().catch(showError);
      loadTrending().catch(showError);
      loadKeywords().catch(showError);
    });
    byId("trending-window").addEventListener("change", (event) => {
      state.window = event.target.value;
      loadTrending().catch(showError);
    });
    loop();
  }

  start();
})();
