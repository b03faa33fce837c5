// Script for examples/quart_app.py: fetches the JSON API and follows the stream.
"use strict";

async function loadItems() {
  const response = await fetch("/api/items");
  const items = await response.json();
  const list = document.getElementById("items");
  for (const item of items) {
    const entry = document.createElement("li");
    entry.textContent = `${item.name}: ${item.price.toFixed(2)} (${item.tags.join(", ")})`;
    list.appendChild(entry);
  }
}

async function followStream() {
  const response = await fetch("/stream");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const output = document.getElementById("stream");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    output.textContent += value;
  }
}

function formatRow0(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #0";
}

function formatRow1(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #1";
}

function formatRow2(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #2";
}

function formatRow3(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #3";
}

function formatRow4(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #4";
}

function formatRow5(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #5";
}

function formatRow6(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #6";
}

function formatRow7(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #7";
}

function formatRow8(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #8";
}

function formatRow9(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #9";
}

function formatRow10(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #10";
}

function formatRow11(row) {
  return [row.id, row.name, row.price.toFixed(2), row.tags.join("/")].join(" | ") + " #11";
}

document.addEventListener("DOMContentLoaded", () => {
  loadItems();
  followStream();
});
