// Toasts and the in-page confirmation dialog (no window.alert / window.confirm).
import { el } from "./dom.js";

const LIFETIME_MS = { info: 5000, success: 4000, warning: 7000, error: 9000 };
const MAX_TOASTS = 5;

function container() {
  let box = document.getElementById("toasts");
  if (!box) {
    box = el("div", { id: "toasts", class: "toasts", "aria-live": "polite" });
    document.body.appendChild(box);
  }
  return box;
}

/** Show a toast. level: info | success | warning | error. Returns the toast element. */
export function showToast(message, level = "info") {
  const kind = LIFETIME_MS[level] ? level : "info";
  const box = container();
  const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  const toast = el("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, [
    el("span", { class: "toast-text" }, String(message)),
    close,
  ]);
  const remove = () => toast.remove();
  close.addEventListener("click", remove);
  box.appendChild(toast);
  while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
  setTimeout(remove, LIFETIME_MS[kind]);
  return toast;
}

export const showSuccess = (message) => showToast(message, "success");
export const showError = (message) => showToast(message, "error");
export const showWarning = (message) => showToast(message, "warning");
export const showInfo = (message) => showToast(message, "info");

/**
 * Ask the user to confirm in a modal dialog. Resolves true on confirm, false on cancel,
 * Escape or a click outside the box.
 */
export function confirmAction(message, { title = "Please confirm", confirmLabel = "Confirm", danger = false } = {}) {
  return new Promise((resolve) => {
    const cancel = el("button", { type: "button", class: "btn", value: "cancel" }, "Cancel");
    const confirm = el("button", { type: "button", class: danger ? "btn btn-danger" : "btn btn-primary", value: "ok" }, confirmLabel);
    const heading = el("h2", { id: "confirm-title" }, title);
    const dialog = el("dialog", { class: "modal", "aria-labelledby": "confirm-title" }, [
      heading,
      el("p", { class: "modal-text" }, message),
      el("div", { class: "modal-actions" }, [cancel, confirm]),
    ]);
    let settled = false;
    const finish = (answer) => {
      if (settled) return;
      settled = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener("click", () => finish(false));
    confirm.addEventListener("click", () => finish(true));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(false); });
    dialog.addEventListener("click", (event) => { if (event.target === dialog) finish(false); });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
