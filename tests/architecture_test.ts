/**
 * The layering of DESIGN.md's Layout table, enforced: every static import (and `export … from`,
 * and dynamic `import("…")` of a literal) of every TypeScript file is read and checked against
 * the direction its folder may import in. A violation fails with the file, the line and the rule.
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), ".."));

/** One import of one file, resolved to a path relative to the repository root. */
export interface Edge {
  from: string;
  to: string;
  line: number;
}

/** A broken rule: what imports what, and why that is refused. */
export interface Violation extends Edge {
  rule: string;
}

const IMPORT =
  /(?:^|[^\w.])(?:import|export)\s*(?:type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The relative imports of `text` (a file at `file`, relative to the root), resolved. */
export function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  // Comments out (keeping line breaks, for line numbers): a commented import is no import.
  const code = text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/^\s*\/\/.*$/gm, "");
  for (const m of code.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (!spec || !spec.startsWith(".")) continue; // npm:, node:, bare (import map): not ours
    const line = code.slice(0, m.index).split("\n").length;
    edges.push({ from: file, to: normalize(join(dirname(file), spec)), line });
  }
  return edges;
}

const under = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

/** The rule `edge` breaks, or undefined when the import goes in an allowed direction. */
export function ruleBroken(edge: Edge): string | undefined {
  const { from, to } = edge;
  if (to === "main.ts") return "nothing imports main.ts (it is the CLI only)";
  // bench/ may import everything (DESIGN.md), test helpers included.
  if (under(to, "tests") && !under(from, "tests") && !under(from, "bench")) {
    return "nothing outside tests/ and bench/ imports tests/";
  }
  if (under(to, "bench") && !under(from, "bench")) return "nothing outside bench/ imports bench/";
  if (under(from, "codecs")) {
    return under(to, "codecs") ? undefined : "codecs/ imports nothing of ours outside codecs/";
  }
  if (under(from, "actors")) {
    return under(to, "actors") || under(to, "codecs")
      ? undefined
      : "actors/ imports only actors/ and codecs/";
  }
  if (under(from, "transports")) {
    if (under(to, "transports") || under(to, "codecs")) return undefined;
    if (to === "actors/ports.ts" || to === "actors/mod.ts") return undefined;
    return "transports/ import codecs/, transports/, and of actors/ only ports.ts and mod.ts";
  }
  if (under(from, "app")) {
    return under(to, "codecs") || under(to, "actors") || under(to, "transports") ||
        under(to, "app")
      ? undefined
      : "app/ imports codecs/, actors/, transports/ and app/";
  }
  if (from === "main.ts") return under(to, "app") ? undefined : "main.ts imports only app/";
  return undefined;
}

/** Files of production code that may touch `Deno.Kv`: the store owns it. */
export function kvOwnerBroken(file: string, text: string): string | undefined {
  if (!/\.ts$/.test(file) || under(file, "tests") || under(file, "bench")) return undefined;
  if (under(file, "actors/store")) return undefined;
  return /\bDeno\.(?:Kv\b|openKv\b|KvKey\b|AtomicOperation\b)/.test(text)
    ? "only actors/store/ touches Deno.Kv (keys, leases, tokens, verification go through it)"
    : undefined;
}

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(join(ROOT, dir))) {
    const path = dir === "." ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory) {
      if (!["node_modules", ".git", "data", "dist"].includes(e.name)) yield* tsFiles(path);
    } else if (e.isFile && (path.endsWith(".ts") || path.endsWith(".tsx"))) yield path;
  }
}

/** Every violation in the tree rooted at `root` (the repository by default). */
export async function violations(): Promise<Violation[]> {
  const found: Violation[] = [];
  // The folders of the Layout table (a scratch file at the root is no part of the product).
  const files: string[] = ["main.ts"];
  for (const dir of ["app", "codecs", "actors", "transports", "tests", "bench"]) {
    for await (const f of tsFiles(dir)) files.push(f);
  }
  for (const file of files) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const edge of importsOf(file, text)) {
      const rule = ruleBroken(edge);
      if (rule) found.push({ ...edge, rule });
    }
    const kv = kvOwnerBroken(file, text);
    if (kv) found.push({ from: file, to: "Deno.Kv", line: 0, rule: kv });
  }
  return found;
}

const show = (v: Violation[]) =>
  v.map((x) => `${x.from}:${x.line} imports ${x.to}: ${x.rule}`).join("\n");

Deno.test("architecture: every import goes in a direction DESIGN.md's Layout table allows", async () => {
  const found = await violations();
  assert.equal(found.length, 0, `imports against the layering:\n${show(found)}`);
});

Deno.test("architecture: the rules refuse each direction the Layout table forbids", () => {
  const refused: [string, string][] = [
    ["codecs/hl7v2/parse.ts", "../../actors/store/store.ts"],
    ["actors/engine/engine.ts", "../../transports/mllp/server.ts"],
    ["actors/engine/engine.ts", "../../app/compose.ts"],
    ["transports/http/admin.ts", "../../actors/store/store.ts"],
    ["transports/mllp/server.ts", "../../app/compose.ts"],
    ["app/compose.ts", "../main.ts"],
    ["app/compose.ts", "../tests/helpers/tls.ts"],
    ["main.ts", "./transports/mllp/send.ts"],
  ];
  for (const [from, spec] of refused) {
    const [edge] = importsOf(from, `import { x } from "${spec}";`);
    assert.ok(edge && ruleBroken(edge), `${from} → ${spec} should be refused`);
  }
  const allowed: [string, string][] = [
    ["transports/http/admin.ts", "../../actors/ports.ts"],
    ["transports/mllp/server.ts", "../../actors/mod.ts"],
    ["actors/engine/engine.ts", "../../codecs/hl7v2/mod.ts"],
    ["app/compose.ts", "../transports/mllp/server.ts"],
    ["main.ts", "./app/mod.ts"],
    ["tests/x_test.ts", "../main.ts".replace("main", "app/compose")],
  ];
  for (const [from, spec] of allowed) {
    const [edge] = importsOf(from, `export type { x } from "${spec}";`);
    assert.ok(edge && !ruleBroken(edge), `${from} → ${spec} should be allowed`);
  }
  assert.ok(kvOwnerBroken("transports/http/x.ts", "const kv: Deno.Kv = k;"));
  assert.equal(kvOwnerBroken("actors/store/x.ts", "const kv: Deno.Kv = k;"), undefined);
});

Deno.test("architecture: imports are read from every form a file may use", () => {
  const text = [
    'import a from "./a.ts";',
    'import type { B } from "../b.ts";',
    "import {",
    "  c,",
    '} from "./c.ts";',
    'export * from "./d.ts";',
    'export { e } from "./e.ts";',
    'const f = await import("./f.ts");',
    'import "./g.ts";',
    '// import h from "./h.ts";',
    '/* import i from "./i.ts"; */',
    'import j from "npm:j";',
  ].join("\n");
  const to = importsOf("actors/x/y.ts", text).map((e) => relative("actors", e.to));
  assert.deepEqual(to, ["x/a.ts", "b.ts", "x/c.ts", "x/d.ts", "x/e.ts", "x/f.ts", "x/g.ts"]);
});
