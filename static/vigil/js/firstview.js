// vigil pages: the first view of a map, framing every camera the user may see.
//
// Leaflet's fitBounds pads a rectangle, but the boxes laid over a map (the legend at
// bottom left, the commander's layer list at top right) sit in its corners: a camera
// framed at the edge can open under one. Each way of clearing the boxes (more padding
// on the side above or below a box, or on the side beside it) is tried on paper, and the
// closest view that leaves every camera clear of them wins.

const L = window.L;

/** The closest the first view zooms in: one site's cameras still show their streets. */
export const FIRST_VIEW_MAX_ZOOM = 16;
/** Padding round the outermost cameras, in pixels. */
const EDGE_PX = 30;
/** A camera marker's radius and outline: a marker this close to a box is under it. */
const MARKER_PX = 7;

/** The boxes Leaflet controls lay over the map, in the map's pixels. */
function controlBoxes(map) {
  const origin = map.getContainer().getBoundingClientRect();
  return [...map.getContainer().querySelectorAll(".leaflet-control")].map((node) => {
    const r = node.getBoundingClientRect();
    return { left: r.left - origin.left - MARKER_PX, top: r.top - origin.top - MARKER_PX,
      right: r.right - origin.left + MARKER_PX, bottom: r.bottom - origin.top + MARKER_PX };
  }).filter((b) => b.right > b.left + 2 * MARKER_PX && b.bottom > b.top + 2 * MARKER_PX);
}

/** The paddings to try: the base, and each box cleared from above/below or beside. */
function paddings(map, base) {
  const size = map.getSize();
  let out = [base];
  for (const b of controlBoxes(map)) {
    const upper = b.top + b.bottom < size.y;
    const left = b.left + b.right < size.x;
    const next = [];
    for (const p of out) {
      next.push(p);
      const vertical = { tl: [...p.tl], br: [...p.br] };
      if (upper) vertical.tl[1] = Math.max(vertical.tl[1], b.bottom);
      else vertical.br[1] = Math.max(vertical.br[1], size.y - b.top);
      const beside = { tl: [...p.tl], br: [...p.br] };
      if (left) beside.tl[0] = Math.max(beside.tl[0], b.right);
      else beside.br[0] = Math.max(beside.br[0], size.x - b.left);
      next.push(vertical, beside);
    }
    out = next;
  }
  return out;
}

/** Where fitBounds with this padding would put the view: {zoom, centre in pixels}. */
function viewFor(map, bounds, padding, maxZoom) {
  const tl = L.point(padding.tl);
  const br = L.point(padding.br);
  let zoom = map.getBoundsZoom(bounds, false, tl.add(br));
  zoom = Math.min(maxZoom, zoom);
  if (!Number.isFinite(zoom)) return null;
  const offset = br.subtract(tl).divideBy(2);
  const centre = map.project(bounds.getSouthWest(), zoom)
    .add(map.project(bounds.getNorthEast(), zoom)).divideBy(2).add(offset);
  return { zoom, centre };
}

function clearOfBoxes(map, view, points, boxes) {
  const half = map.getSize().divideBy(2);
  return points.every((latlng) => {
    const p = map.project(latlng, view.zoom).subtract(view.centre).add(half);
    return !boxes.some((b) => p.x >= b.left && p.x <= b.right && p.y >= b.top && p.y <= b.bottom);
  });
}

/** The padding whose view is closest with every point clear of the boxes (else base). */
function bestPadding(map, bounds, points, base, maxZoom) {
  const boxes = controlBoxes(map);
  if (!boxes.length || !points.length) return base;
  let best = null;
  for (const padding of paddings(map, base)) {
    const view = viewFor(map, bounds, padding, maxZoom);
    if (!view || (best && view.zoom <= best.zoom)) continue;
    if (clearOfBoxes(map, view, points, boxes)) best = { padding, zoom: view.zoom };
  }
  return best ? best.padding : base;
}

/**
 * The first view: every camera in the user's scope (the API sends only those), else the
 * wards. Every site that has cameras is in it, however far out (an island's port is
 * watched too); an area with no camera does not pull the view out. Pixel padding keeps
 * the outermost markers clear of the edge and of the map's controls; ``options``
 * (``paddingTopLeft``, ``paddingBottomRight``) pads more where a page lays its own
 * boxes over the map. Not animated: Leaflet drops a view change asked for while a zoom
 * animation runs.
 */
export function fitWatched(map, cameras, areas, options = {}) {
  const bounds = (cameras && cameras.bounds()) || (areas && areas.bounds);
  if (bounds && bounds.isValid()) {
    const maxZoom = options.maxZoom ?? FIRST_VIEW_MAX_ZOOM;
    const base = { tl: options.paddingTopLeft || [EDGE_PX, EDGE_PX],
      br: options.paddingBottomRight || [EDGE_PX, EDGE_PX] };
    const points = cameras ? [...cameras.cameras.values()].map((c) => L.latLng(c.lat, c.lon))
      : [];
    const padding = bestPadding(map, bounds, points, base, maxZoom);
    map.fitBounds(bounds, {
      paddingTopLeft: padding.tl, paddingBottomRight: padding.br, maxZoom, animate: false,
    });
    document.body.dataset.fitBounds = bounds.toBBoxString();   // west,south,east,north
  }
  return bounds;
}
