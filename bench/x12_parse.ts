/**
 * X12 parse benchmark: our codec against `node-x12` (npm), same run, alternating rounds.
 *
 * Workload: an 837P batch (one interchange, `claims` claims of 4 service lines) and an 835 of as
 * many claim payments; parse, then read the loop values an integration routes on: for the 837
 * the subscriber IDs (2010BA NM1-09), claim IDs and charges (CLM-01, CLM-02) and procedure codes
 * (SV1-01); for the 835 the claim IDs and paid amounts (CLP-01, CLP-04) and service codes
 * (SVC-01). node-x12 reads them with its query engine (`NM109:NM101["IL"]`, `CLM01`...), we
 * with loop paths (`2010BA/NM1-09`...). Both must return the same values. Then a 30 MB 837 is
 * streamed through `streamX12` (transactions handed out one at a time), reporting MB/s and the
 * heap growth.
 *
 * Run: `deno run -A bench/x12_parse.ts [claims=1000] [rounds=5]`.
 *
 * @module
 */

import { X12Parser, X12QueryEngine } from "node-x12";
import { buildLoops, parseX12, readAllX12, streamX12, transactionsOf } from "../codecs/x12/mod.ts";
import { median, printJson, printLine, printTable, rounds } from "./harness.ts";

const CLAIMS = Number(Deno.args[0] ?? 1000);
const ROUNDS = Number(Deno.args[1] ?? 5);

function isa(control: number): string {
  return `ISA*00*          *00*          *ZZ*SUBMITTERID    *ZZ*RECEIVERID     *240315*1200*^*00501*${
    String(control).padStart(9, "0")
  }*0*P*:~`;
}

/** One 837P transaction set per claim (subscriber = patient), `~\n` terminated. */
function claim837(i: number): string[] {
  const id = String(i).padStart(6, "0");
  const lines: string[] = [];
  for (let l = 1; l <= 4; l++) {
    lines.push(`LX*${l}`, `SV1*HC:9921${l}*${40 + l}*UN*1***1`, `DTP*472*D8*2024030${l}`);
  }
  const body = [
    `BHT*0019*00*${id}*20240315*1200*CH`,
    "NM1*41*2*PREMIER BILLING SERVICE*****46*TGJ23",
    "PER*IC*JERRY*TE*3055552222",
    "NM1*40*2*KEY INSURANCE COMPANY*****46*66783JJT",
    "HL*1**20*1",
    "NM1*85*2*BEN KILDARE SERVICE*****XX*9876543210",
    "N3*234 SEAWAY ST",
    "N4*MIAMI*FL*33111",
    "REF*EI*587654321",
    "HL*2*1*22*0",
    "SBR*P*18*******CI",
    `NM1*IL*1*SMITH*JANE****MI*MEM${id}`,
    "N3*236 N MAIN ST",
    "N4*MIAMI*FL*33413",
    "DMG*D8*19430501*F",
    "NM1*PR*2*KEY INSURANCE COMPANY*****PI*999996666",
    `CLM*C${id}*${(166 + (i % 50)).toFixed(2)}***11:B:1*Y*A*Y*I`,
    "HI*ABK:J0300",
    ...lines,
  ];
  const ctrl = String(i % 10000).padStart(4, "0");
  return [`ST*837*${ctrl}*005010X222A1`, ...body, `SE*${body.length + 2}*${ctrl}`];
}

function batch837(n: number, control = 1): string {
  const segs = [isa(control), "GS*HC*SENDER*RECEIVER*20240315*1200*1*X*005010X222A1"];
  for (let i = 0; i < n; i++) segs.push(...claim837(i));
  segs.push(`GE*${n}*1`, `IEA*1*${String(control).padStart(9, "0")}`);
  return segs.map((s) => s.endsWith("~") ? s + "\n" : s + "~\n").join("");
}

function remit835(n: number): string {
  const body = [
    "BPR*C*150000*C*ACH*CTX*01*999999992*DA*123456*1512345678**01*999988880*DA*98765*20240315",
    "TRN*1*12345*1512345678",
    "DTM*405*20240316",
    "N1*PR*INSURANCE COMPANY OF TIMBUCKTU",
    "N3*1 MAIN STREET",
    "N4*TIMBUCKTU*AK*89111",
    "N1*PE*REGIONAL HOPE HOSPITAL*XX*6543210903",
    "LX*1",
  ];
  for (let i = 0; i < n; i++) {
    const id = String(i).padStart(6, "0");
    body.push(
      `CLP*C${id}*1*226*${100 + (i % 90)}**12*ICN${id}`,
      `NM1*QC*1*DOE*SALLY****MI*MEM${id}`,
      "DTM*232*20240301",
      "SVC*HC:99211*80*76",
      "DTM*472*20240301",
      "CAS*CO*45*4",
      "SVC*HC:93010*146*50",
      "CAS*CO*45*96",
    );
  }
  const segs = [
    isa(2),
    "GS*HP*PAYER*PROVIDER*20240316*1200*1*X*005010X221A1",
    "ST*835*0001*005010X221A1",
    ...body,
    `SE*${body.length + 2}*0001`,
    "GE*1*1",
    "IEA*1*000000002",
  ];
  return segs.map((s) => s.endsWith("~") ? s + "\n" : s + "~\n").join("");
}

type Reader = (text: string) => string[];

const PATHS_837 = ["2010BA/NM1-09", "2300/CLM-01", "2300/CLM-02", "2400/SV1-01"];
const QUERIES_837 = ['NM109:NM101["IL"]', "CLM01", "CLM02", "SV101"];
const PATHS_835 = ["2100/CLP-01", "2100/CLP-04", "2110/SVC-01"];
const QUERIES_835 = ["CLP01", "CLP04", "SVC01"];

function ours(paths: string[]): Reader {
  return (text) => {
    const doc = parseX12(text);
    const out: string[][] = paths.map(() => []);
    for (const { transaction } of transactionsOf(doc)) {
      const tree = buildLoops(transaction);
      paths.forEach((p, i) => out[i]!.push(...readAllX12(tree, p)));
    }
    return out.flat();
  };
}

function nodeX12(queries: string[]): Reader {
  return (text) => {
    const interchange = new X12Parser(true).parse(text);
    const engine = new X12QueryEngine(false);
    return queries.flatMap((q) => engine.query(interchange as never, q).map((r) => r.value ?? ""));
  };
}

const text837 = batch837(CLAIMS);
const text835 = remit835(CLAIMS);
const bytes837 = new TextEncoder().encode(text837).length;
const bytes835 = new TextEncoder().encode(text835).length;

const workloads: { name: string; text: string; bytes: number; readers: [string, Reader][] }[] = [
  {
    name: "837P",
    text: text837,
    bytes: bytes837,
    readers: [["ours", ours(PATHS_837)], ["node-x12", nodeX12(QUERIES_837)]],
  },
  {
    name: "835",
    text: text835,
    bytes: bytes835,
    readers: [["ours", ours(PATHS_835)], ["node-x12", nodeX12(QUERIES_835)]],
  },
];

// Correctness first: both readers must agree on every value.
const agreement: Record<string, boolean> = {};
for (const w of workloads) {
  const [a, b] = w.readers.map(([, r]) => r(w.text));
  agreement[w.name] = JSON.stringify(a) === JSON.stringify(b);
  if (!agreement[w.name]) {
    printLine(`warning: ${w.name}: readers disagree (${a!.length} vs ${b!.length} values)`);
  }
}

let sink = 0;
const results: Record<string, Record<string, number>> = {};
for (const w of workloads) {
  const r = rounds({
    rounds: ROUNDS,
    budgetMs: 40_000,
    contenders: w.readers.map(([name, read]) => ({
      name,
      minMs: 300,
      fn: () => {
        sink += read(w.text).length;
        return w.bytes;
      },
    })),
  });
  results[w.name] = Object.fromEntries(
    [...r].map(([name, s]) => [name, median(s.map((x) => x.perSecond)) / 1e6]),
  );
}

// Streaming: a 30 MB 837 batch, transactions read into loops one at a time.
const bigClaims = Math.ceil((30 * 1024 * 1024) / (bytes837 / CLAIMS));
const big = new TextEncoder().encode(batch837(bigClaims, 3));
const heap0 = Deno.memoryUsage().heapUsed;
let heapPeak = heap0;
const t0 = performance.now();
let streamed = 0;
const chunks = function* () {
  for (let i = 0; i < big.length; i += 65536) yield big.subarray(i, i + 65536);
};
for await (const item of streamX12(chunks())) {
  if (item.kind === "transaction") {
    sink += readAllX12(buildLoops(item.transaction), "2010BA/NM1-09").length;
    if (++streamed % 2000 === 0) heapPeak = Math.max(heapPeak, Deno.memoryUsage().heapUsed);
  }
}
const streamMs = performance.now() - t0;
const streamMBs = big.length / 1e6 / (streamMs / 1000);
const heapGrowthMB = (heapPeak - heap0) / 1e6;

printLine(
  `X12 parse + loop reads; 837P: ${CLAIMS} claims (${(bytes837 / 1e6).toFixed(2)} MB), ` +
    `835: ${CLAIMS} claim payments (${(bytes835 / 1e6).toFixed(2)} MB); values agree: ${
      JSON.stringify(agreement)
    }`,
);
printLine();
printTable(
  ["workload", "parser", "MB/s (median)", "ours is x times"],
  workloads.flatMap((w) =>
    w.readers.map(([name]) => [
      w.name,
      name,
      Number((results[w.name]![name] ?? NaN).toFixed(2)),
      Number(((results[w.name]!.ours ?? NaN) / (results[w.name]![name] ?? NaN)).toFixed(1)),
    ])
  ),
);
printLine();
printLine(
  `stream: ${(big.length / 1e6).toFixed(1)} MB 837P, ${streamed} claims in ${
    (streamMs / 1000).toFixed(2)
  } s (${streamMBs.toFixed(1)} MB/s), heap growth ${heapGrowthMB.toFixed(1)} MB`,
);
const ratio837 = (results["837P"]!.ours ?? NaN) / (results["837P"]!["node-x12"] ?? NaN);
const ratio835 = (results["835"]!.ours ?? NaN) / (results["835"]!["node-x12"] ?? NaN);
printJson({
  bench: "x12_parse",
  claims: CLAIMS,
  valuesAgree: agreement,
  mbPerSec: results,
  x837: { ratio: Number(ratio837.toFixed(3)), target: 1 },
  x835: { ratio: Number(ratio835.toFixed(3)), target: 1 },
  stream: {
    bytes: big.length,
    claims: streamed,
    mbPerSec: Number(streamMBs.toFixed(1)),
    heapGrowthMB: Number(heapGrowthMB.toFixed(1)),
  },
  sink: sink % 997,
});
