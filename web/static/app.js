// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // "Use my current position" fills the coordinates when the browser can tell.
  for (const button of document.querySelectorAll("[data-locate]")) {
    if (!navigator.geolocation) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      const failed = document.querySelector("[data-locate-failed]");
      if (failed) failed.hidden = true;
      navigator.geolocation.getCurrentPosition((position) => {
        for (const [id, value] of [["latitude", position.coords.latitude],
                                   ["longitude", position.coords.longitude]]) {
          const input = document.getElementById(id);
          input.value = value.toFixed(6);
          input.dispatchEvent(new Event("change")); // the map follows
        }
      }, () => {
        // refused or unavailable: say so, and what to do instead
        if (failed) failed.hidden = false;
      }, { timeout: 15000 });
    });
  }
  // Photos are shrunk in the browser before upload (long side at most data-resize pixels, as
  // JPEG): phone photos of 5-26 MB become a few hundred KB, quick on 3G and under the limit.
  for (const input of document.querySelectorAll("input[type=file][data-resize]")) {
    input.addEventListener("change", () => shrinkPhotos(input));
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

async function shrinkPhotos(input) {
  const longest = Number(input.dataset.resize);
  if (!window.createImageBitmap || !window.DataTransfer || !longest) return;
  const form = input.form;
  const buttons = form ? form.querySelectorAll("button[type=submit]") : [];
  for (const button of buttons) button.disabled = true;
  try {
    const out = new DataTransfer();
    for (const file of input.files) {
      out.items.add(await shrunk(file, longest));
    }
    input.files = out.files;
    input.dataset.resized = String(out.files.length);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

async function shrunk(file, longest) {
  if (!/^image\/(jpeg|png|webp)$/.test(file.type)) return file;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (error) {
    return file; // not a picture the browser can read: the server says so
  }
  const scale = longest / Math.max(bitmap.width, bitmap.height);
  if (scale >= 1) return file;
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  if (!blob) return file;
  const name = file.name.replace(/\.[^.]+$/, "") + ".jpg";
  return new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified });
}
