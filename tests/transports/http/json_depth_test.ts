/**
 * The JSON nesting-depth limit: the scanner itself, and `POST /endpoint` refusing a deeply nested
 * body with the path, in bounded memory, while other requests are answered.
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { checkJsonDepth, JsonDepthScanner } from "../../../transports/http/json_depth.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { withIngress } from "./ingress_fixture.ts";

/** The unauthenticated uploads come from curl, whose memory is not this process's. */
const curlTest = testNeeding("curl");

const enc = new TextEncoder();
const depthOf = (text: string, max: number) => checkJsonDepth(enc.encode(text), max);

Deno.test("the depth scanner allows exactly the limit and names the path of the first deeper value", () => {
  assert.deepEqual(depthOf("[[[]]]", 3), { ok: true });
  assert.deepEqual(depthOf("[[[[]]]]", 3), { ok: false, path: "$[0][0][0]" });
  assert.deepEqual(depthOf('[1, 2, [3, {"a": 1}], [[]]]', 2), { ok: false, path: "$[2][1]" });
  assert.deepEqual(depthOf("[1, 2, [3, 4], [[]]]", 2), { ok: false, path: "$[3][0]" });
  assert.deepEqual(
    depthOf('{"Patient": {"Demographics": [{"Names": [1]}, {"Names": [[2]]}]}}', 5),
    { ok: false, path: "$.Patient.Demographics[1].Names[0]" },
  );
  // Brackets, quotes and escapes inside strings (keys and values) do not count.
  assert.deepEqual(depthOf('{"[[[": "]]]\\"[[[[", "b\\\\": ["\\u005b"]}', 2), { ok: true });
  assert.deepEqual(
    depthOf('{"a b": {"x": [{"é\\"": [[]]}]}}', 4),
    { ok: false, path: '$["a b"].x[0]["é\\\\\\""]' },
  );
  // A long path keeps its start and end.
  assert.deepEqual(
    depthOf("[".repeat(100), 64),
    { ok: false, path: "$[0][0][0][0][0][0]…(55 more)…[0][0][0]" },
  );
});

Deno.test("the depth scanner gives the same verdict fed byte by byte as all at once", () => {
  const text = '{"k\\"[": [{"Names": ["[[", {"x": [[1, [2]]]}]}], "z": 1}';
  for (const max of [1, 2, 3, 4, 5, 6, 7]) {
    const scanner = new JsonDepthScanner(max);
    for (const byte of enc.encode(text)) scanner.feed(Uint8Array.of(byte));
    assert.deepEqual(scanner.result, depthOf(text, max), `max ${max}`);
  }
});

Deno.test("endpoint refuses JSON nested past limits.maxJsonDepth with 400 naming the limit and the path", async () => {
  await withIngress({ maxJsonDepth: 8 }, async (e) => {
    const token = await e.secretToken();
    const ok = await e.post(JSON.stringify({ Meta: { a: [[[[[[1]]]]]] } }), token);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const deep = await e.post(JSON.stringify({ Meta: { a: [[[[[[[1]]]]]]] } }), token);
    assert.equal(deep.status, 400);
    assert.deepEqual(deep.json.Meta.Errors, [{
      Text:
        "the JSON is nested more than 8 levels deep (limits.maxJsonDepth) at $.Meta.a[0][0][0][0][0][0]",
      Path: "$.Meta.a[0][0][0][0][0][0]",
    }]);
    assert.equal(e.inbox.requests.length, 1);
    assert.ok(e.lines.some((l) => /WARN +endpoint\.too-deep .*limit=8/.test(l)));
  });
});

/** A body of `size` bytes of `[`, streamed in 64 KiB chunks; `onHalf` runs when half is sent. */
function nestedBody(size: number, onHalf: () => void): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(0x5b);
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      const n = Math.min(chunk.length, size - sent);
      controller.enqueue(chunk.slice(0, n));
      const before = sent;
      sent += n;
      if (before < size / 2 && sent >= size / 2) onHalf();
    },
  });
}

Deno.test("a 40 MB nested body is refused naming the depth while a normal request is answered first", async () => {
  const size = 40 * 1024 * 1024;
  // Memory is measured on the engine as a process of its own, in tests/robustness: this process
  // runs other test files beside this one.
  await withIngress({ limits: { maxJsonBytes: 41 * 1024 * 1024 } }, async (e) => {
    const token = await e.secretToken();
    {
      const order: string[] = [];
      const started = Promise.withResolvers<void>();
      const big = e.post(
        nestedBody(size, () => started.resolve()),
        token,
      ).then((r) => {
        order.push("big");
        return r;
      });
      await started.promise;
      const small = e.post(JSON.stringify({ small: true }), token).then((r) => {
        assert.equal(r.status, 200, JSON.stringify(r.json));
        order.push("small");
      });
      const refused = await big;
      await small;
      assert.equal(refused.status, 400, JSON.stringify(refused.json));
      assert.match(
        refused.json.Meta.Errors[0].Text,
        /^the JSON is nested more than 64 levels deep \(limits\.maxJsonDepth\) at \$\[0\]\[0\]/,
      );
      assert.deepEqual(order, ["small", "big"]);
    }
  });
});

curlTest(
  "10 MB bodies from unauthenticated clients are refused 401 and never reach the inbox",
  async () => {
    const size = 10 * 1024 * 1024;
    const file = await Deno.makeTempFile({ prefix: "json-depth-" });
    try {
      await Deno.writeFile(file, new Uint8Array(size).fill(0x5b));
      await withIngress({ limits: { maxJsonBytes: 41 * 1024 * 1024 } }, async (e) => {
        const ca = await Deno.makeTempFile({ prefix: "json-depth-" });
        try {
          await Deno.writeTextFile(ca, e.pki.caCert);
          for (let i = 0; i < 5; i++) {
            const out = await new Deno.Command("curl", {
              args: [
                "--silent",
                "--max-time",
                "30",
                "--cacert",
                ca,
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                `@${file}`,
                "-w",
                "%{http_code}",
                "-o",
                "/dev/null",
                `${e.base}/endpoint`,
              ],
              stdout: "piped",
            }).output();
            assert.equal(new TextDecoder().decode(out.stdout), "401");
          }
        } finally {
          await Deno.remove(ca);
        }
        assert.equal(e.inbox.requests.length, 0);
      });
    } finally {
      await Deno.remove(file);
    }
  },
);

/**
 * A plain reading of the rules, character by character on the text: the container past `max`
 * and the path to it (raw key text between its quotes, as the scanner shows it).
 */
function referenceDepth(text: string, max: number): { ok: true } | { ok: false; path: string } {
  const open: { array: boolean; index: number; key: string }[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (expectKey) open.at(-1)!.key = text.slice(i + 1, j);
      expectKey = false;
      i = j;
    } else if (c === "[" || c === "{") {
      if (open.length >= max) {
        const segments = open.map((o) =>
          o.array
            ? `[${o.index}]`
            : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(o.key)
            ? `.${o.key}`
            : `[${JSON.stringify(o.key)}]`
        );
        return { ok: false, path: `$${segments.join("")}` };
      }
      open.push({ array: c === "[", index: 0, key: "" });
      expectKey = c === "{";
    } else if (c === "]" || c === "}") {
      open.pop();
      expectKey = false;
    } else if (c === "," && open.length > 0) {
      if (open.at(-1)!.array) open.at(-1)!.index++;
      else expectKey = true;
    }
  }
  return { ok: true };
}

Deno.test("the depth scanner agrees with a plain reading of the rules on any JSON, however the bytes are split and their buffer reused", () => {
  // Keys of up to 40 characters and paths of up to 9 levels are shown whole, as the reference does.
  const key = fc.string({ maxLength: 12, unit: "grapheme" });
  const doc = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.oneof(fc.string({ unit: "grapheme" }), fc.integer(), fc.boolean(), fc.constant(null)),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(key, tie("value"), { maxKeys: 4 }),
    ),
  })).value;
  fc.assert(
    fc.property(
      doc,
      fc.integer({ min: 1, max: 9 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
      (value, max, cuts) => {
        const text = JSON.stringify(value);
        const bytes = enc.encode(text);
        const expected = referenceDepth(text, max);
        assert.deepEqual(checkJsonDepth(bytes, max), expected);
        // Fed through one buffer the caller reuses: nothing of a chunk may be read after its feed.
        const scanner = new JsonDepthScanner(max);
        const reused = new Uint8Array(8);
        for (let at = 0, k = 0; at < bytes.length; k++) {
          const piece = bytes.subarray(at, at + cuts[k % cuts.length]!);
          reused.set(piece);
          scanner.feed(reused.subarray(0, piece.length));
          reused.fill(0x21);
          at += piece.length;
        }
        assert.deepEqual(scanner.result, expected);
      },
    ),
    { numRuns: 500 },
  );
});
