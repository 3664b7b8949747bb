// The dashboard's "Latest alerts" section, on its own: reads GET /api/v1/alerts and renders
// the newest fired alerts (rule, scope, value against its baseline, deliveries, evidence).
// Self-contained: it shares nothing with dashboard.js but the page's element ids below.
"use strict";

(() => {
  const LIMIT = 10;
  const REFRESH_MS = 60_000;

  function node(tag, text, attrs = {}) {
    const element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
    return element;
  }

  function fmtValue(metric, value) {
    if (value === null || value === undefined) return "–";
    if (metric === "negative_share") return `${(value * 100).toFixed(1)}%`;
    if (metric === "mentions") return value.toFixed(1);
    return (value >= 0 ? "+" : "") + value.toFixed(3);
  }

  function baselineText(alert) {
    const b = alert.baseline || {};
    const [condition, threshold] = Object.entries(alert.condition)[0] || ["", ""];
    if (condition.startsWith("zscore")) {
      return `z ${b.z !== undefined ? b.z.toFixed(2) : "–"} vs mean ${fmtValue(alert.metric, b.mean)} of ${b.windows || 0} windows`;
    }
    const previous = b.previous !== undefined ? `, previous ${fmtValue(alert.metric, b.previous)}` : "";
    return `${condition.replace("_", " ")} ${fmtValue(alert.metric, threshold)}${previous}`;
  }

  function scopeText(alert) {
    const where = alert.subreddit ? `r/${alert.subreddit}` : "all subreddits";
    return alert.keyword ? `“${alert.keyword}” in ${where}` : where;
  }

  function evidenceCell(alert) {
    const cell = node("td");
    for (const post of alert.evidence || []) {
      const link = node("a", post.title || post.id, { href: post.permalink, target: "_blank", rel: "noopener noreferrer" });
      const line = node("div");
      line.append(link);
      cell.append(line);
    }
    return cell;
  }

  function deliveriesCell(alert) {
    const cell = node("td");
    for (const d of alert.deliveries || []) {
      const status = node("span", d.status, { class: `badge badge-alert-${d.status}`, title: d.error || `${d.attempts} attempt(s)` });
      const line = node("div");
      line.append(status, ` ${d.target}`);
      cell.append(line);
    }
    return cell;
  }

  function render(container, alerts) {
    container.replaceChildren();
    if (!alerts.length) {
      container.append(node("p", "No alert has fired yet.", { class: "empty" }));
      return;
    }
    const table = node("table", null, { id: "alerts-table" });
    const head = node("tr");
    for (const title of ["Fired", "Rule", "Scope", "Window", "Value", "Against", "Deliveries", "Top posts"]) head.append(node("th", title));
    const thead = node("thead");
    thead.append(head);
    table.append(thead);
    const body = node("tbody");
    for (const alert of alerts) {
      const row = node("tr", null, { "data-alert": alert.id });
      row.append(
        node("td", new Date(alert.fired_at).toLocaleString(), { title: alert.fired_at }),
        node("td", alert.rule_name, { title: alert.title }),
        node("td", scopeText(alert)),
        node("td", alert.window),
        node("td", `${fmtValue(alert.metric, alert.value)} ${alert.metric}`, { class: "num" }),
        node("td", baselineText(alert)),
        deliveriesCell(alert),
        evidenceCell(alert),
      );
      body.append(row);
    }
    table.append(body);
    container.append(table);
  }

  async function load() {
    const container = document.getElementById("alerts");
    if (!container) return;
    try {
      const response = await fetch(`/api/v1/alerts?limit=${LIMIT}`, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!response.ok) throw new Error(`/alerts answered HTTP ${response.status}`);
      render(container, (await response.json()).items);
    } catch (error) {
      container.replaceChildren(node("p", `Alerts unavailable: ${error.message}`, { class: "empty" }));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    load();
    setInterval(load, REFRESH_MS);
  });
})();
