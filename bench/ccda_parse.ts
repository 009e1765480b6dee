/**
 * C-CDA parse benchmark: `parseCcda` (safe XML read + ClinicalSummary mapping) against the bare
 * `fast-xml-parser` parse it builds on, in the same run, so the mapping's cost shows; and the
 * refusal time of a billion-laughs input. No JavaScript C-CDA-to-JSON library was benchmarked.
 *
 * Run: `deno run -A bench/ccda_parse.ts [rounds=5]`.
 *
 * @module
 */

import { XMLParser } from "fast-xml-parser";
import { CcdaError, parseCcda } from "../codecs/ccda/mod.ts";
import { CCD } from "../tests/codecs/ccda/fixtures.ts";
import { median, printJson, printLine, printTable, rounds } from "./harness.ts";

const ROUNDS = Number(Deno.args[0] ?? 5);
const bytes = new TextEncoder().encode(CCD).length;
const bare = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true });
let sink = 0;
const r = rounds({
  rounds: ROUNDS,
  budgetMs: 20_000,
  contenders: [
    { name: "parseCcda", minMs: 300, fn: () => (sink += parseCcda(CCD).Results.length, 1) },
    {
      name: "fast-xml-parser (bare)",
      minMs: 300,
      fn: () => (sink += Object.keys(bare.parse(CCD)).length, 1),
    },
  ],
});
const perSec = new Map([...r].map(([k, s]) => [k, median(s.map((x) => x.perSecond))]));
const lol = `<!DOCTYPE l [<!ENTITY a "${"x".repeat(10)}">${
  Array.from({ length: 9 }, (_, i) => `<!ENTITY b${i} "${"&a;".repeat(10)}">`).join("")
}]><ClinicalDocument xmlns="urn:hl7-org:v3"><title>&b8;</title></ClinicalDocument>`;
const t0 = performance.now();
try {
  parseCcda(lol);
} catch (e) {
  if (!(e instanceof CcdaError)) throw e;
}
const refuseMs = performance.now() - t0;
printLine(`C-CDA parse, sample CCD of ${bytes} bytes (10 sections)`);
printTable(
  ["parser", "docs/s (median)", "MB/s"],
  [...perSec].map(([k, v]) => [k, Math.round(v), Number((v * bytes / 1e6).toFixed(1))]),
);
printLine(`billion laughs refused in ${refuseMs.toFixed(2)} ms (target < 100)`);
const ratio = (perSec.get("parseCcda") ?? NaN) / (perSec.get("fast-xml-parser (bare)") ?? NaN);
printJson({
  bench: "ccda_parse",
  bytes,
  docsPerSec: Object.fromEntries([...perSec].map(([k, v]) => [k, Math.round(v)])),
  mappingOverhead: { ratio: Number(ratio.toFixed(3)) },
  billionLaughsRefusedMs: Number(refuseMs.toFixed(2)),
  sink: sink % 997,
});
