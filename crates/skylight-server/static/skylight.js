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
  // The connect wizard: show the fields of the chosen credential, and let a PEM file fill its
  // box (the file is read here; nothing is uploaded but the form).
  const kinds = document.querySelectorAll("input[name=kind]");
  if (kinds.length) {
    const show = () => {
      const kind = document.querySelector("input[name=kind]:checked").value;
      document.querySelectorAll("[data-kind]").forEach((el) => {
        el.hidden = el.dataset.kind !== kind;
      });
    };
    kinds.forEach((k) => k.addEventListener("change", show));
    show();
  }
  document.querySelectorAll("input[data-pem-into]").forEach((input) => {
    input.hidden = false;
    input.addEventListener("change", () => {
      const file = input.files[0];
      if (!file) return;
      file.text().then((text) => {
        document.getElementById(input.dataset.pemInto).value = text;
      });
    });
  });
});
