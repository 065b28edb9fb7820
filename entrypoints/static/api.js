// Talking to the API, with the token when the server wants one.

import { $ } from "./dom.js";

const TOKEN_KEY = "store-monitor.api-token";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch (error) {
    return null;
  }
}

let tokenRequest = null; // one prompt answers every request waiting for it
let memoryToken = null; // where sessionStorage is refused

function askForToken(rejected) {
  if (tokenRequest) return tokenRequest;
  tokenRequest = new Promise((resolve) => {
    const section = $("token-section");
    const form = $("token-form");
    const input = $("token-input");
    const error = $("token-error");
    $("token-reason").textContent = rejected
      ? "The server did not accept that token. Enter the API token of this server."
      : "This server asks for its API token before it shows any report.";
    error.hidden = true;
    input.value = "";
    input.removeAttribute("aria-invalid");
    section.hidden = false;
    input.focus();
    form.onsubmit = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) {
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      try {
        sessionStorage.setItem(TOKEN_KEY, token);
      } catch (storageError) {
        // Storage refused (a private mode): the token lives in this page only.
        memoryToken = token;
      }
      section.hidden = true;
      form.onsubmit = null;
      tokenRequest = null;
      resolve();
    };
  });
  return tokenRequest;
}

function currentToken() {
  return storedToken() || memoryToken;
}

function forgetToken() {
  memoryToken = null;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch (error) {
    // nothing stored
  }
}

export async function api(path, options = {}) {
  for (;;) {
    const token = currentToken();
    const headers = Object.assign({}, options.headers || {});
    if (token) headers.Authorization = "Bearer " + token;
    let response;
    try {
      response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
    } catch (error) {
      throw new ApiError("The server cannot be reached (" + error.message + ").", 0);
    }
    if (response.status !== 401) return response;
    if (currentToken() !== token) continue; // another request got a new token meanwhile
    if (token) forgetToken();
    await askForToken(Boolean(token));
  }
}

export async function errorText(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch (error) {
    // not JSON
  }
  return "the server answered HTTP " + response.status;
}

export async function apiJson(path, options) {
  const response = await api(path, options);
  if (!response.ok) throw new ApiError(await errorText(response), response.status);
  return response.json();
}
