/**
 * The console's static files, served by the engine itself (hospitals run offline: no CDN):
 * htmx and uPlot from their npm packages pinned in deno.json, and the console's own script and
 * stylesheet. Read at build time as text imports, so `deno compile` embeds them too.
 * @module
 */

import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import uplot from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import script from "./static/console.js" with { type: "text" };
import style from "./static/console.css" with { type: "text" };

/** One static file: its body and content type. */
export interface Asset {
  body: string;
  type: string;
}

const js = "text/javascript; charset=utf-8";
const css = "text/css; charset=utf-8";

/** The files under `/console/static/`, by name. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["htmx.min.js", { body: htmx, type: js }],
  ["uPlot.iife.min.js", { body: uplot, type: js }],
  ["uPlot.min.css", { body: uplotCss, type: css }],
  ["console.js", { body: script, type: js }],
  ["console.css", { body: style, type: css }],
]);
