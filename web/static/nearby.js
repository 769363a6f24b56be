// "Same problem? Follow it" on the submit form (issue 16): once a pin is placed (or
// coordinates typed) and a category chosen, the published open reflections of that category
// nearby are listed, each with a button that makes the citizen a follower instead of filing a
// duplicate. Texts come from the page (data-* attributes, in the page's language).
document.addEventListener("DOMContentLoaded", () => {
  const panel = document.querySelector("[data-nearby]");
  if (!panel || !window.fetch) return;
  const lat = document.getElementById("latitude");
  const lng = document.getElementById("longitude");
  const category = document.getElementById("category");
  const list = panel.querySelector("[data-nearby-list]");
  const status = panel.querySelector("[data-nearby-status]");
  const contact = panel.querySelector("[data-follow-contact]");
  const text = panel.dataset;
  const number = (input) => parseFloat((input.value || "").replace(",", "."));
  const newKey = () => {
    const bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  let asked = 0;

  const show = async () => {
    const a = number(lat);
    const b = number(lng);
    const code = category.value;
    if (!code || !Number.isFinite(a) || !Number.isFinite(b)) {
      panel.hidden = true;
      return;
    }
    const mine = ++asked;
    const query = new URLSearchParams({ lat: String(a), lon: String(b), category: code });
    let items = [];
    try {
      const answer = await fetch(`${text.url}?${query}`, { headers: { Accept: "application/json" } });
      if (answer.ok) items = (await answer.json()).items;
    } catch (_) {
      items = [];
    }
    if (mine !== asked) return; // a newer pin or category meanwhile
    // The same reflections as shown: keep their buttons (a keyboard user's focus, a pending
    // click's key), so a pin nudged nearby does not pull the list from under the finger.
    const shown = Array.from(list.children, (li) => li.dataset.nearbyItem).join(" ");
    if (shown !== items.map((item) => item.tracking_code).join(" ")) {
      list.replaceChildren(...items.map(row));
    }
    panel.hidden = items.length === 0;
  };

  const row = (item) => {
    const li = document.createElement("li");
    li.dataset.nearbyItem = item.tracking_code;
    const title = document.createElement("p");
    const code = document.createElement("strong");
    code.textContent = item.tracking_code;
    title.append(code, ` · ${text.distance.replace("{n}", String(item.distance_m))}`);
    li.append(title);
    if (item.summary) {
      const summary = document.createElement("p");
      summary.textContent = item.summary;
      li.append(summary);
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = text.follow;
    button.setAttribute("aria-describedby", "follow-contact-help");
    button.addEventListener("click", () => follow(item.tracking_code, button));
    li.append(button);
    return li;
  };

  const follow = async (code, button) => {
    const typed = contact.value.trim();
    const given =
      typed ||
      (document.getElementById("phone")?.value || "").trim() ||
      (document.getElementById("email")?.value || "").trim();
    if (!given) {
      status.textContent = text.needContact;
      contact.focus();
      return;
    }
    button.dataset.key = button.dataset.key || newKey(); // a retry of this click acts once
    button.disabled = true;
    let message = text.failed;
    try {
      const answer = await fetch(`${text.followUrl}${encodeURIComponent(code)}/followers`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "Idempotency-Key": button.dataset.key,
        },
        body: JSON.stringify({ contact: given, language: document.documentElement.lang }),
      });
      if (answer.status === 201) message = text.followed.replace("{code}", code);
      else if (answer.status === 422) message = text.badContact;
      else if (answer.status === 429) message = text.tooMany;
      else if (answer.status === 404) message = text.gone;
      if (answer.status !== 201) delete button.dataset.key;
    } catch (_) {
      message = text.failed;
    }
    button.disabled = false;
    status.textContent = message;
  };

  for (const input of [lat, lng, category]) input.addEventListener("change", show);
  document.addEventListener("map:pin", show);
  show();
});
