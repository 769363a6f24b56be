// The map on the submit form (issue 16): tap to place the pin, which fills latitude and
// longitude; typed coordinates and "use my location" move the pin. Without Leaflet or
// JavaScript the form keeps its two number fields.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-map]");
  if (!box || !window.L) return;
  const lat = document.getElementById("latitude");
  const lng = document.getElementById("longitude");
  box.hidden = false;
  for (const help of document.querySelectorAll("[data-map-help]")) help.hidden = false;
  const hue = [16.4637, 107.5909];
  const map = L.map(box, { keyboard: true }).setView(hue, 14);
  map.attributionControl.setPrefix(false); // the tiles' credit only, as plain text
  L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: box.dataset.attribution }).addTo(map);
  let pin = null;
  const place = (latlng, pan) => {
    if (pin) pin.setLatLng(latlng);
    else pin = L.marker(latlng, { keyboard: false }).addTo(map);
    if (pan) map.panTo(latlng);
  };
  const typed = () => {
    const a = parseFloat((lat.value || "").replace(",", "."));
    const b = parseFloat((lng.value || "").replace(",", "."));
    if (Number.isFinite(a) && Number.isFinite(b)) place([a, b], true);
  };
  map.on("click", (event) => {
    lat.value = event.latlng.lat.toFixed(6);
    lng.value = event.latlng.lng.toFixed(6);
    place(event.latlng, false);
    box.dataset.pinned = "1";
    document.dispatchEvent(new CustomEvent("map:pin")); // nearby.js looks for the same problem
  });
  lat.addEventListener("change", typed);
  lng.addEventListener("change", typed);
  // "use my location" fills the fields by script: follow them
  const watch = new MutationObserver(typed);
  for (const input of [lat, lng]) {
    input.addEventListener("input", typed);
    watch.observe(input, { attributes: true, attributeFilter: ["value"] });
  }
  typed();
});
