// DOM helpers. Text from data only ever goes in through textContent, never parsed as HTML,
// so a headline or reason containing markup shows up as text.

/**
 * Build an element: el("td", {class: "num", title: "..."}, "text") or with children:
 * el("tr", {}, [el("td", {}, "a"), el("td", {}, "b")]).
 * attrs: "class", "dataset" (object), "on" (object of event handlers), boolean attributes
 * (true sets, false/null/undefined skips), anything else via setAttribute.
 */
export function el(tag, attrs = {}, content = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "on") {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (name === "style") {
      throw new Error("inline styles break the page's Content-Security-Policy; use a class");
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, content);
  return node;
}

function append(node, content) {
  if (content === null || content === undefined) return;
  if (Array.isArray(content)) content.forEach((child) => append(node, child));
  else if (content instanceof Node) node.appendChild(content);
  else node.appendChild(document.createTextNode(String(content)));
}

/** Replace all children of node with the given content (nodes, strings or arrays of them). */
export function replaceChildren(node, content = null) {
  node.replaceChildren();
  append(node, content);
  return node;
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`page lacks #${id}`);
  return node;
}

/** Set the text of an element (and an optional sign class: pos / neg / zero). */
export function setText(node, text, signClass = null) {
  node.textContent = text;
  if (signClass !== null) {
    node.classList.remove("pos", "neg", "zero");
    if (signClass) node.classList.add(signClass);
  }
}

// Panel states. A panel is <section class="panel"> holding one .panel-state box (loading,
// empty or error message) and one .panel-content box (the data); exactly one is visible.
// The empty sentence comes from the panel's data-empty attribute unless given.

function parts(panel) {
  const state = panel.querySelector(":scope > .panel-state");
  const content = panel.querySelector(":scope > .panel-content");
  if (!state || !content) throw new Error(`panel #${panel.id} lacks .panel-state or .panel-content`);
  return { state, content };
}

export function panelLoading(panel, message = "Loading…") {
  const { state, content } = parts(panel);
  panel.dataset.state = "loading";
  panel.setAttribute("aria-busy", "true");
  replaceChildren(state, [el("span", { class: "spinner", "aria-hidden": "true" }), el("span", {}, message)]);
  state.className = "panel-state is-loading";
  state.hidden = false;
  content.hidden = true;
}

export function panelEmpty(panel, message = null) {
  const { state, content } = parts(panel);
  panel.dataset.state = "empty";
  panel.removeAttribute("aria-busy");
  replaceChildren(state, el("p", {}, message || panel.dataset.empty || "Nothing to show yet."));
  state.className = "panel-state is-empty";
  state.hidden = false;
  content.hidden = true;
}

/** Show an error with a Retry button (when retry is given). */
export function panelError(panel, message, retry = null) {
  const { state, content } = parts(panel);
  panel.dataset.state = "error";
  panel.removeAttribute("aria-busy");
  const children = [el("p", { role: "alert" }, message)];
  if (retry) {
    children.push(el("button", { type: "button", class: "btn btn-small", on: { click: () => retry() } }, "Retry"));
  }
  replaceChildren(state, children);
  state.className = "panel-state is-error";
  state.hidden = false;
  content.hidden = true;
}

export function panelReady(panel) {
  const { state, content } = parts(panel);
  panel.dataset.state = "ready";
  panel.removeAttribute("aria-busy");
  state.hidden = true;
  content.hidden = false;
}

/** Ready when hasData, otherwise the empty state. Returns hasData. */
export function panelShow(panel, hasData, emptyMessage = null) {
  if (hasData) panelReady(panel);
  else panelEmpty(panel, emptyMessage);
  return hasData;
}

/** Table cell helper: el("td") with an optional class and title. */
/** Give each cell of a table body its column's header as data-label (stacked rows at 390 px show it). */
export function labelCells(tbody) {
  const table = tbody.closest("table");
  const heads = table ? [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim()) : [];
  for (const row of tbody.rows) {
    [...row.cells].forEach((cell, i) => { if (heads[i]) cell.dataset.label = heads[i]; });
  }
}

export function td(text, cls = null, title = null) {
  return el("td", { class: cls, title }, text);
}

/**
 * Show (or, with an empty message, clear) a form field's error in its #<prefix><name> box and
 * mark the input invalid; returns false when the form has no such field.
 */
export function fieldError(fields, name, message, prefix = "error-") {
  const box = document.getElementById(`${prefix}${name}`);
  const input = fields[name];
  if (!box || !input) return false;
  box.textContent = message;
  box.hidden = !message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return true;
}
