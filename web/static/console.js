// Staff pages: keyboard work, type-ahead in long lists, canned texts, routing suggestions,
// printing the slip. Every page works without it; nothing here is needed to act.
(() => {
  const STORE = "reflections.shortcuts";
  const shortcutsOn = () => window.localStorage.getItem(STORE) !== "off";
  const typing = (el) =>
    el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  // "Phú Xuân" and "phu xuan" alike; "Đ" is "d".
  const fold = (text) =>
    text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();

  const rowLinks = () => [...document.querySelectorAll("[data-row] [data-reflection-link]")];

  function moveRow(step) {
    const links = rowLinks();
    if (!links.length) return;
    const at = links.indexOf(document.activeElement);
    const next = links[at < 0 ? 0 : Math.min(Math.max(at + step, 0), links.length - 1)];
    next.focus();
    next.closest("tr")?.scrollIntoView({ block: "nearest" });
  }

  function toggleRow() {
    const row = document.activeElement?.closest("[data-row]");
    const box = row?.querySelector("[data-select]");
    if (box) box.checked = !box.checked;
  }

  function focusPrimary() {
    const field = document.querySelector(
      "[data-section=primary] form select, [data-section=primary] form textarea," +
        " [data-section=primary] form input:not([type=hidden]), [data-section=primary] form button",
    );
    if (field) {
      field.focus();
      field.scrollIntoView({ block: "center" });
    }
  }

  const keys = {
    j: () => moveRow(1),
    k: () => moveRow(-1),
    x: toggleRow,
    "/": () => document.querySelector("[data-search]")?.focus(),
    n: () => document.querySelector("a[data-next]")?.click(),
    b: () => document.querySelector("a[data-back]")?.click(),
    c: focusPrimary,
    "?": () => {
      const help = document.querySelector("[data-shortcuts-help]");
      if (help) help.open = !help.open;
    },
  };

  document.addEventListener("keydown", (event) => {
    // Ctrl+Enter (⌘+Enter) sends the form being filled in, from any of its fields.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = event.target.closest?.("form");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (!shortcutsOn() || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  function typeAhead(select) {
    // Jump to the first option one of whose words starts with what was typed ("phu x":
    // "UBND phường Phú Xuân"); the browser's own only matches the label's first letters.
    let typed = "";
    let timer;
    select.addEventListener("keydown", (event) => {
      if (event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === " " && !typed) return; // a space alone opens the list
      typed += fold(event.key);
      clearTimeout(timer);
      timer = setTimeout(() => (typed = ""), 1000);
      const match = [...select.options].find(
        (option) => option.value && ` ${fold(option.text)}`.includes(` ${typed}`),
      );
      event.preventDefault();
      if (match && select.value !== match.value) {
        select.value = match.value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }

  function followRouting(form) {
    // The unit the routing rules name follows the category and ward chosen, until the
    // coordinator picks a unit themselves.
    const category = form.querySelector("[name=category]");
    const ward = form.querySelector("[name=ward]");
    const unit = form.querySelector("[name=handling_unit]");
    const note = form.querySelector("[data-routing-suggestion]");
    if (!category || !ward || !unit || !note) return;
    unit.addEventListener("change", () => (unit.dataset.touched = "1"));
    const update = async () => {
      if (unit.dataset.touched) return;
      const query = new URLSearchParams({ category: category.value, ward: ward.value });
      const answer = await fetch(`/console/routing?${query}`, { credentials: "same-origin" });
      if (!answer.ok) return;
      const { unit: code } = await answer.json();
      const option = code && [...unit.options].find((o) => o.value === code);
      unit.value = option ? code : "";
      note.dataset.routingSuggestion = option ? code : "";
      note.textContent = option
        ? note.dataset.template.replace("{unit}", option.text)
        : note.dataset.none;
    };
    category.addEventListener("change", update);
    ward.addEventListener("change", update);
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const link of document.querySelectorAll("[data-skip-to]")) {
      link.addEventListener("click", (event) => {
        const target = document.getElementById(link.dataset.skipTo);
        if (!target) return;
        event.preventDefault();
        target.focus();
      });
    }
    for (const select of document.querySelectorAll("select[data-typeahead]")) typeAhead(select);
    for (const form of document.querySelectorAll("form[data-action=classify]")) followRouting(form);
    for (const select of document.querySelectorAll("select[data-canned-for]")) {
      select.addEventListener("change", () => {
        const target = document.getElementById(select.dataset.cannedFor);
        const text = select.selectedOptions[0]?.dataset.text;
        if (!target || !text) return;
        target.value = target.value.trim() ? `${target.value.trim()}\n${text}` : text;
        target.focus();
      });
    }
    for (const button of document.querySelectorAll("button[data-confirm]")) {
      button.addEventListener("click", (event) => {
        if (!window.confirm(button.dataset.confirm)) event.preventDefault();
      });
    }
    for (const button of document.querySelectorAll("[data-print]")) {
      button.addEventListener("click", () => window.print());
    }
    for (const toggle of document.querySelectorAll("[data-shortcuts-toggle]")) {
      const show = () => (toggle.textContent = shortcutsOn() ? toggle.dataset.on : toggle.dataset.off);
      show();
      toggle.addEventListener("click", () => {
        window.localStorage.setItem(STORE, shortcutsOn() ? "off" : "on");
        show();
      });
    }
  });
})();
