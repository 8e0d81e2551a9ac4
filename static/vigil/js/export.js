// vigil commander: download the events matching the filters as CSV or JSON (a plain
// fetch, not core.js's JSON request: the answer is a file).

import { config, t, el, notify, formatNumber, reasonFor } from "./core.js";

/** Download the events matching the filters (every kind, not only alerts) as a file;
 * the server audits it and says so when the filters match too many rows. */
export async function exportEvents(format, f) {
  const query = new URLSearchParams({ format, since: f.since });
  for (const key of ["ward", "zone", "kind", "severity_min"]) {
    if (f[key]) query.set(key, f[key]);
  }
  const base = (config.api && config.api.events) || "/api/v1/events";
  try {
    const response = await fetch(`${base}/export?${query}`, { credentials: "same-origin" });
    if (!response.ok) {
      let error = null;
      try {
        error = (await response.json()).error;
      } catch (err) { /* not JSON: the status text */ }
      const cap = error && error.details && error.details.max_rows;
      if (cap) {
        const text = t("More than {n} events match these filters and an export holds at most {n}: narrow the time window, or choose a ward, zone, kind or camera.", { n: formatNumber(cap) });
        notify(text, "error");
        return;
      }
      const detail = (error && error.message) || response.statusText;
      throw new Error(reasonFor(response.status, detail));
    }
    const disposition = response.headers.get("Content-Disposition") || "";
    const link = el("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = (disposition.match(/filename=([^;]+)/) || [])[1] || `events.${format}`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (err) {
    const reason = err instanceof TypeError ? reasonFor(0, null) : err.message;
    notify(t("Could not export: {reason}", { reason }), "error");
  }
}
