import assert from "node:assert/strict";
import { Hl7Message as MedplumMessage } from "@medplum/core";
import { decodeHl7, encodeHl7, parseHl7, splitBatch } from "../../../codecs/hl7v2/mod.ts";

interface Corpus {
  corpus(n: number, seed: number): string[];
  big(i: number, rng: () => number, kib: number): string;
  rng(seed: number): () => number;
}

// The shared corpus generator lives beside the repository (<repo>/../shared).
const gen = await import(
  new URL("../../../../shared/tools/hl7corpus.mjs", import.meta.url).href
).then((m) => m as Corpus, () => undefined);

Deno.test({
  name: "corpus: every generated message re-encodes byte for byte and reads like @medplum/core",
  ignore: gen === undefined,
  fn() {
    const messages = (gen as Corpus).corpus(300, 3);
    for (const text of messages) {
      const m = parseHl7(text);
      assert.equal(m.encode(), text);
      const peer = MedplumMessage.parse(text);
      assert.equal(m.getRaw("MSH-10"), peer.header.getField(10).toString());
      assert.equal(
        m.getRepetitions("PID-3", { raw: true }).join("~"),
        peer.getSegment("PID")?.getField(3).toString(),
      );
      assert.deepEqual(
        m.getAll("OBX-5", { raw: true }),
        peer.getAllSegments("OBX").map((s) => s.getField(5).toString()),
      );
    }
  },
});

Deno.test({
  name: "corpus: bytes of a concatenated corpus decode as UTF-8 and split into the messages",
  ignore: gen === undefined,
  fn() {
    const messages = (gen as Corpus).corpus(30, 5);
    const bytes = encodeHl7(messages.join("\r\n"), "UNICODE UTF-8");
    const { text, charset } = decodeHl7(bytes);
    assert.equal(charset, "utf-8");
    // Segments inside each message keep their CR; messages are separated by CRLF.
    assert.deepEqual(splitBatch(text).messages, messages);
  },
});

Deno.test({
  name: "corpus: the 1 MiB message parses and gives its base64 OBX-5 intact",
  ignore: gen === undefined,
  fn() {
    const g = gen as Corpus;
    const text = g.big(0, g.rng(11), 1024);
    const m = parseHl7(text);
    const ed = m.getAll("OBX-5").at(-1) ?? "";
    assert.ok(ed.length > 1_000_000);
    assert.equal(m.get("OBX[4]-5.4"), "Base64");
    assert.equal(
      m.get("OBX[4]-5.5"),
      text.slice(text.lastIndexOf("^") + 1, text.lastIndexOf("||||||F")),
    );
    assert.equal(m.encode(), text);
  },
});
