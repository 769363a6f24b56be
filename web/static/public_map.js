// The public map (issue 16): one marker per listed reflection that has a (rounded) place,
// read from the list below the map, which stays the accessible alternative. A marker's
// popup names the reflection and links to its item in the list.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-public-map]");
  if (!box || !window.L) return;
  box.hidden = false;
  const map = L.map(box, { keyboard: true }).setView([16.4637, 107.5909], 13);
  map.attributionControl.setPrefix(false);
  L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: box.dataset.attribution }).addTo(map);
  const points = [];
  for (const item of document.querySelectorAll("[data-map-item][data-lat]")) {
    const at = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
    if (!Number.isFinite(at[0]) || !Number.isFinite(at[1])) continue;
    const heading = item.querySelector("h4");
    const link = document.createElement("a");
    link.href = `#${heading.id}`;
    link.textContent = `${item.dataset.trackingCode} · ${heading.textContent.trim()}`;
    // the list already holds each item: markers stay out of the tab order
    L.marker(at, { keyboard: false, title: item.dataset.trackingCode }).addTo(map).bindPopup(link);
    points.push(at);
  }
  if (points.length) map.fitBounds(points, { maxZoom: 16, padding: [24, 24] });
});
