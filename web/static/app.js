// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // "Use my current position" fills the coordinates when the browser can tell.
  for (const button of document.querySelectorAll("[data-locate]")) {
    if (!navigator.geolocation) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.geolocation.getCurrentPosition((position) => {
        document.getElementById("latitude").value = position.coords.latitude.toFixed(6);
        document.getElementById("longitude").value = position.coords.longitude.toFixed(6);
      });
    });
  }
  // A refused form: the summary of its errors takes the focus, so it is read out first.
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
  // Forms marked data-confirm ask before an action that cannot be undone.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
