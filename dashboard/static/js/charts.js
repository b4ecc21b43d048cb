// Chart.js helpers: one dark theme, a stable colour per strategy/exchange, and small
// constructors for the chart kinds the dashboard uses. Chart.js is loaded as a classic
// script from /vendor/chart.umd.min.js and lives on window.Chart.
import { STRATEGIES } from "./catalog.js";
import { axisNumber, label, money, stamp, time } from "./format.js";

export const PALETTE = ["#4f9dff", "#f5a623", "#36c28f", "#e5548c", "#a78bfa", "#22c3d6", "#f06b4f", "#c7d35a"];
export const POSITIVE = "#2ebd85";
export const NEGATIVE = "#f0565b";
const GRID = "rgba(148, 163, 184, 0.12)";
const TEXT = "#9aa7bd";

const assigned = new Map();
// Full tooltip titles for bar charts whose axis labels are abbreviated.
const barTitles = new WeakMap();
STRATEGIES.forEach((name, i) => assigned.set(name, PALETTE[i]));

/** The same colour for the same name on every chart and page. */
export function colorFor(name) {
  if (!assigned.has(name)) assigned.set(name, PALETTE[assigned.size % PALETTE.length]);
  return assigned.get(name);
}

export function chartAvailable() {
  return typeof window.Chart === "function";
}

let themed = false;
function theme() {
  if (themed || !chartAvailable()) return;
  const defaults = window.Chart.defaults;
  defaults.color = TEXT;
  defaults.borderColor = GRID;
  defaults.font.family = getComputedStyle(document.body).fontFamily || "system-ui, sans-serif";
  defaults.font.size = 12;
  defaults.animation = false;
  defaults.maintainAspectRatio = false;
  defaults.responsive = true;
  defaults.plugins.legend.labels.boxWidth = 12;
  themed = true;
}

function make(canvas, config) {
  if (!chartAvailable()) throw new Error("Chart.js did not load (/vendor/chart.umd.min.js)");
  theme();
  return new window.Chart(canvas, config);
}

function timeAxis(width) {
  return {
    type: "linear",
    bounds: "data",
    ticks: { maxTicksLimit: width < 500 ? 3 : 6, maxRotation: 0, callback: (value) => time(value) },
    grid: { color: GRID },
  };
}

/**
 * A y axis never spans less than minSpan(min, max): a flat equity line stays flat instead of a
 * 6 USDT range making a 0.01 % dip look like a crash. Default: 1 % of the level, at least 1.
 */
export function defaultMinSpan(min, max) {
  return Math.max(1, 0.01 * Math.max(Math.abs(min), Math.abs(max)));
}

function keepMinSpan(minSpan) {
  return (scale) => {
    const { min, max } = scale;
    if (!Number.isFinite(min) || !Number.isFinite(max)) return;
    const span = minSpan(min, max);
    if (max - min >= span) return;
    const middle = (min + max) / 2;
    scale.min = middle - span / 2;
    scale.max = middle + span / 2;
  };
}

/** Line chart over time: series = [{name, points: [{x: ms, y}]}]. */
export function timeLineChart(canvas, { yLabel = "", money: isMoney = true, format = null, tickFormat = null,
  minSpan = defaultMinSpan } = {}) {
  const formatY = tickFormat || format || ((value, index, ticks) => (isMoney ? axisNumber(value, index, ticks) : value));
  return make(canvas, {
    type: "line",
    data: { datasets: [] },
    options: {
      parsing: false,
      normalized: true,
      // Fewer time labels on a narrow chart, so they never run into each other.
      onResize: (chart, size) => {
        chart.options.scales.x.ticks.maxTicksLimit = size.width < 500 ? 3 : 6;
      },
      interaction: { mode: "nearest", intersect: false, axis: "x" },
      elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 2, tension: 0 } },
      scales: {
        x: timeAxis(canvas.parentElement ? canvas.parentElement.clientWidth : 800),
        y: {
          title: { display: Boolean(yLabel), text: yLabel },
          afterDataLimits: minSpan ? keepMinSpan(minSpan) : undefined,
          ticks: { callback: formatY },
          grid: { color: GRID },
        },
      },
      plugins: {
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? stamp(items[0].parsed.x) : ""),
            label: (item) => `${item.dataset.label}: ${format ? format(item.parsed.y) : isMoney ? money(item.parsed.y) : item.parsed.y}`,
          },
        },
      },
    },
  });
}

/** Replace a time line chart's series; keeps each series' colour by name. */
export function setTimeSeries(chart, series) {
  chart.data.datasets = series.map((s) => ({
    label: s.label || label(s.name),
    data: s.points,
    borderColor: s.color || colorFor(s.name),
    backgroundColor: s.color || colorFor(s.name),
    // Short series get visible points, so a strategy with one trade still shows up.
    pointRadius: s.points.length < 20 ? 3 : 0,
    borderDash: s.dash || [],
    fill: false,
  }));
  chart.update("none");
}

/** [[iso_ts, value], ...] -> [{x: ms, y}] (bad rows skipped). */
export function isoPairsToPoints(pairs) {
  const points = [];
  for (const pair of pairs || []) {
    if (!Array.isArray(pair) || pair.length < 2) continue;
    const x = typeof pair[0] === "number" ? pair[0] * (pair[0] < 1e12 ? 1000 : 1) : Date.parse(pair[0]);
    const y = Number(pair[1]);
    if (Number.isFinite(x) && Number.isFinite(y)) points.push({ x, y });
  }
  return points;
}

export function doughnutChart(canvas) {
  return make(canvas, {
    type: "doughnut",
    data: { labels: [], datasets: [{ data: [], backgroundColor: [], borderWidth: 0 }] },
    options: {
      cutout: "60%",
      plugins: {
        legend: { position: "right" },
        tooltip: { callbacks: { label: (item) => `${item.label}: ${money(item.parsed)} USDT` } },
      },
    },
  });
}

export function setDoughnut(chart, labels, values) {
  chart.data.labels = labels.map(String);
  chart.data.datasets[0].data = values.map(Number);
  chart.data.datasets[0].backgroundColor = labels.map((name) => colorFor(String(name)));
  chart.update("none");
}

/** Bar chart; horizontal when indexAxis = "y". */
export function barChart(canvas, { indexAxis = "x", money: isMoney = false, legend = false } = {}) {
  const valueAxis = indexAxis === "x" ? "y" : "x";
  return make(canvas, {
    type: "bar",
    data: { labels: [], datasets: [] },
    options: {
      indexAxis,
      scales: {
        [valueAxis]: { grid: { color: GRID }, ticks: { callback: (v, i, ticks) => (isMoney ? axisNumber(v, i, ticks) : v) } },
        [indexAxis]: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } },
      },
      plugins: {
        legend: { display: legend },
        tooltip: {
          callbacks: {
            title: (items) => {
              if (!items.length) return "";
              const titles = barTitles.get(items[0].chart);
              return titles ? titles[items[0].dataIndex] : items[0].label;
            },
            label: (item) => `${item.dataset.label || ""} ${isMoney ? money(item.raw) : item.raw}`.trim(),
          },
        },
      },
    },
  });
}

/** One dataset, each bar green or red by sign (or coloured by the given colours). */
export function setBars(chart, labels, values, { colors = null, datasetLabel = "", titles = null } = {}) {
  chart.data.labels = labels.map(String);
  if (titles) barTitles.set(chart, titles);
  else barTitles.delete(chart);
  chart.data.datasets = [{
    label: datasetLabel,
    data: values.map(Number),
    backgroundColor: colors || values.map((v) => (v >= 0 ? POSITIVE : NEGATIVE)),
    borderRadius: 3,
    maxBarThickness: 64,
  }];
  chart.update("none");
}

/** Destroy a chart if there is one (before its canvas is reused). */
export function destroy(chart) {
  if (chart) chart.destroy();
  return null;
}
