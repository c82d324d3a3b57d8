// Skylight console: small conveniences on top of pages that work without JavaScript.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Destructive buttons ask first.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Escape closes the activity drawer (its close link keeps the filters).
  const close = document.querySelector("aside.drawer a.close");
  if (close) {
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") window.location.href = close.href;
    });
  }
  // "Add a condition" reveals one more of the hidden blank rows.
  const more = document.querySelector("[data-more-rows]");
  if (more) {
    more.hidden = false;
    more.addEventListener("click", (event) => {
      event.preventDefault();
      const next = document.querySelector("form.filters .row[hidden]");
      if (next) next.hidden = false;
      if (!document.querySelector("form.filters .row[hidden]")) more.hidden = true;
    });
  }
});
