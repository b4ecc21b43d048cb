// fetch wrapper for the dashboard's JSON API. Sends the CSRF token on every state-changing
// request and turns the server's {"error", "field"} answers into ApiError exceptions.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** An API call that failed: message for the user, HTTP status (0 = no answer), field or null. */
export class ApiError extends Error {
  constructor(message, status = 0, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
  }
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

export async function request(method, url, body = undefined) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (UNSAFE.has(method)) {
    headers["Content-Type"] = "application/json";
    headers["X-CSRF-Token"] = csrfToken();
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (exc) {
    throw new ApiError("Could not reach the bot. Is it still running?", 0, null);
  }
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) {
    try {
      data = await response.json();
    } catch (exc) {
      data = null;
    }
  }
  if (!response.ok) {
    const message = data && typeof data.error === "string" && data.error
      ? data.error
      : `The bot answered ${response.status} ${response.statusText || ""}`.trim();
    throw new ApiError(message, response.status, data && data.field ? data.field : null);
  }
  if (data === null) throw new ApiError(`Expected JSON from ${url}`, response.status, null);
  return data;
}

export const api = {
  get: (url) => request("GET", url),
  post: (url, body = {}) => request("POST", url, body),
  put: (url, body = {}) => request("PUT", url, body),
  del: (url) => request("DELETE", url, {}),
};

/** Build a query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
