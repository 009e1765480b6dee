/**
 * HL7 v2 parse benchmark: our lazy codec against `@medplum/core` and `simple-hl7`.
 *
 * Workload per message: parse, then read MSH-9, MSH-10, PID-3, PID-5 and every OBX-5. Corpus:
 * `shared/tools/hl7corpus.mjs` (2/3 ADT^A01, 1/3 ORU^R01 with 20 OBX), plus two 1 MiB ORUs, in
 * MB/s of UTF-8 input: the corpus's own, whose one OBX-5 carries base64 (few, long segments), and
 * one of about 13,800 short OBX segments (where a parser's per-segment cost shows).
 *
 * Run: `deno run -A bench/hl7v2_parse.ts [messages=1000] [rounds=7]`. Takes about 15-25 s.
 *
 * @module
 */

import { Hl7Message as MedplumMessage } from "@medplum/core";
import simpleHl7 from "simple-hl7";
import { parseHl7 } from "../codecs/hl7v2/mod.ts";
import { median, printJson, printLine, printTable, rounds } from "./harness.ts";

interface Corpus {
  corpus(n: number, seed: number): string[];
  oru(i: number, rng: () => number, nObx: number): string;
  big(i: number, rng: () => number, kib: number): string;
  rng(seed: number): () => number;
}

interface SimpleField {
  toString(): string;
}
interface SimpleSegment {
  getField(n: number): string;
  fields: SimpleField[];
}
interface SimpleMessage {
  header: SimpleSegment;
  getSegment(name: string): SimpleSegment | undefined;
  getSegments(name: string): SimpleSegment[];
}
interface SimpleParser {
  parse(text: string): SimpleMessage;
}

const gen = await import(
  new URL("../../shared/tools/hl7corpus.mjs", import.meta.url).href
) as Corpus;

const N = Number(Deno.args[0] ?? 1000);
const ROUNDS = Number(Deno.args[1] ?? 7);
const messages = gen.corpus(N, 7);
const bigText = gen.big(0, gen.rng(11), 1024);
const bigBytes = new TextEncoder().encode(bigText).length;
const manyText = manySegments(1024 * 1024);
const manyBytes = new TextEncoder().encode(manyText).length;

/** An ORU^R01 of at least `bytes`, made of numeric OBX segments. */
function manySegments(bytes: number): string {
  const lines = [gen.oru(0, gen.rng(3), 0)];
  let size = lines[0]!.length;
  for (let i = 1; size < bytes; i++) {
    const value = (10 + (i % 70) / 10).toFixed(1);
    const line = `OBX|${i}|NM|718-7^Hemoglobin^LN||${value}|g/dL|12.0-17.5|N|||F|||20240315130000`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join("\r");
}
const SimpleParserClass = (simpleHl7 as unknown as { Parser: new () => SimpleParser }).Parser;

/** Each reader returns a number derived from the values so that nothing is optimised away. */
type Reader = (text: string) => number;

const ours: Reader = (text) => {
  const m = parseHl7(text);
  let n = (m.get("MSH-9")?.length ?? 0) + (m.get("MSH-10")?.length ?? 0) +
    (m.get("PID-5")?.length ?? 0);
  // The peers return PID-3 with all its repetitions; read them all too (plus the "~"s).
  const ids = m.getRepetitions("PID-3");
  for (const id of ids) n += id.length + 1;
  if (ids.length > 0) n--;
  for (const v of m.getAll("OBX-5")) n += v?.length ?? 0;
  return n;
};

const medplum: Reader = (text) => {
  const m = MedplumMessage.parse(text);
  const msh = m.header;
  const pid = m.getSegment("PID");
  let n = msh.getField(9).toString().length + msh.getField(10).toString().length +
    (pid?.getField(3)?.toString().length ?? 0) + (pid?.getField(5)?.toString().length ?? 0);
  for (const obx of m.getAllSegments("OBX")) n += obx.getField(5)?.toString().length ?? 0;
  return n;
};

const simple: Reader = (text) => {
  const m = new SimpleParserClass().parse(text);
  // simple-hl7's header fields start at MSH-3, so MSH-n is getField(n - 2).
  const pid = m.getSegment("PID");
  let n = m.header.getField(7).length + m.header.getField(8).length +
    (pid?.getField(3).length ?? 0) + (pid?.getField(5).length ?? 0);
  for (const obx of m.getSegments("OBX")) n += obx.getField(5).length;
  return n;
};

const readers: [string, Reader][] = [["ours", ours], ["@medplum/core", medplum], [
  "simple-hl7",
  simple,
]];

// Sanity: all three read the same values from the corpus (same total length).
let sink = 0;
const checks = readers.map((
  [name, read],
) => [name, messages.reduce((s, t) => s + read(t), 0), read(bigText), read(manyText)]);
if (new Set(checks.map((c) => `${c[1]}/${c[2]}/${c[3]}`)).size !== 1) {
  printLine(`warning: readers disagree on values read: ${JSON.stringify(checks)}`);
}

const corpusResults = rounds({
  rounds: ROUNDS,
  budgetMs: 12_000,
  contenders: readers.map(([name, read]) => ({
    name,
    minMs: 250,
    fn: () => {
      for (const t of messages) sink += read(t);
      return messages.length;
    },
  })),
});

/** Median MB/s of UTF-8 input per reader, parsing one big message over and over. */
function megabytesPerSecond(text: string, bytes: number): Map<string, number> {
  const results = rounds({
    rounds: ROUNDS,
    budgetMs: 10_000,
    contenders: readers.map(([name, read]) => ({
      name,
      minMs: 200,
      fn: () => {
        sink += read(text);
        return bytes;
      },
    })),
  });
  return new Map(
    [...results].map(([name, s]) => [name, median(s.map((x) => x.perSecond)) / 1e6]),
  );
}

const mbPerSec = megabytesPerSecond(bigText, bigBytes);
const manyMbPerSec = megabytesPerSecond(manyText, manyBytes);

const msgPerSec = new Map(
  [...corpusResults].map(([name, s]) => [name, median(s.map((x) => x.perSecond))]),
);
const oursRate = msgPerSec.get("ours") ?? NaN;
const peers = readers.slice(1).map(([name]) => name);
const fastestPeer = peers.reduce((a, b) =>
  (msgPerSec.get(a) ?? 0) >= (msgPerSec.get(b) ?? 0) ? a : b
);
const ratio = oursRate / (msgPerSec.get(fastestPeer) ?? NaN);
const oursMb = mbPerSec.get("ours") ?? NaN;
const oursManyMb = manyMbPerSec.get("ours") ?? NaN;

const segments = manyText.split("\r").length;
printLine(
  `HL7 v2 parse + read MSH-9, MSH-10, PID-3, PID-5, all OBX-5; ${N} messages, ` +
    `${corpusResults.get("ours")?.length} rounds; 1 MiB messages: ${
      (bigBytes / 1048576).toFixed(2)
    } MiB base64 ORU, ${(manyBytes / 1048576).toFixed(2)} MiB of ${segments} segments`,
);
printLine();
const times = (ours: number, theirs: number | undefined) =>
  Number((ours / (theirs ?? NaN)).toFixed(1));
printTable(
  [
    "parser",
    "msg/s (median)",
    "ours is x times",
    "base64 MB/s",
    "ours is x times",
    "segments MB/s",
    "ours is x times",
  ],
  readers.map(([name]) => [
    name,
    Math.round(msgPerSec.get(name) ?? NaN),
    times(oursRate, msgPerSec.get(name)),
    Number((mbPerSec.get(name) ?? NaN).toFixed(1)),
    times(oursMb, mbPerSec.get(name)),
    Number((manyMbPerSec.get(name) ?? NaN).toFixed(1)),
    times(oursManyMb, manyMbPerSec.get(name)),
  ]),
);
printLine();
printLine(
  `ours / fastest peer (${fastestPeer}): ${ratio.toFixed(2)}x (target >= 5x); ` +
    `1 MiB: ${oursMb.toFixed(0)} MB/s base64, ${oursManyMb.toFixed(0)} MB/s of short segments ` +
    `(target >= 200)`,
);
const mb = (m: Map<string, number>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, Number(v.toFixed(1))]));
printJson({
  bench: "hl7v2_parse",
  messages: N,
  msgPerSec: Object.fromEntries([...msgPerSec].map(([k, v]) => [k, Math.round(v)])),
  fastestPeer,
  ratio: Number(ratio.toFixed(3)),
  target: 5,
  bigMessageBytes: bigBytes,
  bigMBPerSecTarget: 200,
  bigMBPerSec: mb(mbPerSec),
  manySegmentsBytes: manyBytes,
  manySegmentsMBPerSec: mb(manyMbPerSec),
  targetsMet: ratio >= 5 && oursMb >= 200 && oursManyMb >= 200,
  sink: sink % 997,
});
