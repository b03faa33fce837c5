/* asgi-compress example: the script of the Starlette demo page.
 *
 * Served by Starlette's StaticFiles behind CompressMiddleware: text/javascript is in the
 * default mimetypes, so this file reaches the browser compressed. The page's inline script
 * calls the helpers below; if this file were mangled on the way, nothing would render.
 */
"use strict";

(function (global) {
  const startedAt = performance.now();

  /** Escape text for insertion into HTML. */
  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  /** Format a price the way the catalogue shows it. */
  function formatPrice(value) {
    const number = Number(value);
    if (!Number.isFinite(number)) {
      return "n/a";
    }
    return number.toFixed(2) + " \u20ac";
  }

  /** Build one list entry for a catalogue item. */
  function itemElement(item) {
    const li = document.createElement("li");
    li.dataset.id = String(item.id);
    if (!item.in_stock) {
      li.classList.add("out-of-stock");
    }
    const sku = document.createElement("span");
    sku.className = "sku";
    sku.textContent = item.sku;
    const name = document.createElement("span");
    name.className = "name";
    name.innerHTML =
      escapeHtml(item.name) +
      item.tags.map((tag) => '<span class="tag">' + escapeHtml(tag) + "</span>").join("");
    name.title = item.description;
    const price = document.createElement("span");
    price.className = "price";
    price.textContent = formatPrice(item.price);
    li.append(sku, name, price);
    return li;
  }

  /** Replace the content of a list with the given items, in one layout pass. */
  function renderItems(list, items) {
    const fragment = document.createDocumentFragment();
    for (const item of items) {
      fragment.appendChild(itemElement(item));
    }
    list.replaceChildren(fragment);
    return items.length;
  }

  /** Append one server-sent event to the list, with the time since the page started. */
  function appendEvent(list, data) {
    const li = document.createElement("li");
    li.dataset.n = String(data.n);
    const message = document.createElement("span");
    message.className = "message";
    message.textContent = data.message;
    const elapsed = document.createElement("span");
    elapsed.className = "elapsed";
    elapsed.textContent = "+" + Math.round(performance.now() - startedAt) + " ms";
    li.append(message, elapsed);
    list.appendChild(li);
    return li;
  }

  /** Show a status line; kind is one of "live", "done", "error". */
  function setStatus(text, kind) {
    const status = document.getElementById("status");
    if (!status) {
      return;
    }
    status.textContent = text;
    status.className = "status " + (kind || "");
  }

  /** Summarize what the network delivered, for a curious reader of the console. */
  function describeResources() {
    if (!global.performance || !performance.getEntriesByType) {
      return [];
    }
    return performance.getEntriesByType("resource").map((entry) => ({
      name: entry.name,
      encodedBodySize: entry.encodedBodySize,
      decodedBodySize: entry.decodedBodySize,
      ratio:
        entry.encodedBodySize > 0
          ? Math.round((entry.decodedBodySize / entry.encodedBodySize) * 10) / 10
          : null,
    }));
  }

  global.App = Object.freeze({
    escapeHtml,
    formatPrice,
    renderItems,
    appendEvent,
    setStatus,
    describeResources,
  });
  // Read back by the interop tests: proves this file was decoded and executed.
  document.documentElement.dataset.appJs = "ready";
})(window);
