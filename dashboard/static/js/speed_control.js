// The simulation speed control on the status bar (every page): shown only while the market
// clock can be changed (a simulated or replayed market, `clock.applies`), it shows the current
// speed and sets a new one through POST /api/market/speed (the SetSpeed command). One toast per
// change; a speed changed elsewhere (another tab, the API) shows up with the next bot_status.
import { currentStatus, updateStatus } from "./layout.js";
import { api } from "./api.js";
import * as fmt from "./format.js";
import { showError, showSuccess } from "./notify.js";

const form = document.getElementById("speed-form");
const input = document.getElementById("speed-input");
const note = document.getElementById("speed-note");
let busy = false;

function describe(clock) {
  if (!clock.applies) return "The market runs in real time; speed applies to a simulated or replayed market.";
  if (clock.mode === "fast") return "Running with --fast (as fast as the machine allows); the speed applies to real-time runs.";
  const ms = clock.tick_interval_seconds * 1000;
  return `${fmt.qty(clock.speed)} simulated seconds per wall-clock second: a tick every ${fmt.num(ms, ms < 10 ? 2 : 0)} ms.`;
}

function render(clock) {
  if (!form || !clock || typeof clock !== "object") return;
  form.hidden = !clock.applies;
  form.dataset.mode = clock.mode || "idle";
  form.dataset.applies = clock.applies ? "yes" : "no";
  if (document.activeElement !== input && typeof clock.speed === "number") input.value = String(clock.speed);
  const words = describe(clock);
  note.textContent = words;
  form.title = words;
  for (const node of form.querySelectorAll("input, button")) node.disabled = busy || !clock.applies;
}

async function submit(event) {
  event.preventDefault();
  if (busy) return;
  const speed = Number(input.value);
  if (input.value.trim() === "" || !Number.isFinite(speed) || speed <= 0) {
    showError("Speed must be a number above 0 (simulated seconds per wall-clock second).");
    return;
  }
  busy = true;
  render(currentStatus().clock);
  try {
    const clock = await api.post("/api/market/speed", { speed });
    busy = false;
    updateStatus({ clock });
    showSuccess(`Simulated clock at ${fmt.qty(clock.speed)}× real time.`);
  } catch (exc) {
    showError(`Could not change the speed: ${exc.message}`);
  } finally {
    busy = false;
    render(currentStatus().clock);
  }
}

if (form) {
  form.addEventListener("submit", submit);
  document.addEventListener("bot-status", (event) => render(event.detail.clock));
  render(currentStatus().clock);
}
