/**
 * Wall-clock fields and offsets of a zone: UTC is computed without Intl, and must say exactly
 * what Intl says for the same zone under another name.
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { wallFields, zoneOffsetMs } from "../../../codecs/time/zone.ts";

// Year -9999 to 9999 (astronomical), and the edges of JavaScript's time range.
const MIN = Date.UTC(-9999, 0, 1);
const MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

Deno.test("time: UTC wall fields and offset, computed without Intl, match Intl's Etc/UTC at any instant", () => {
  fc.assert(
    fc.property(fc.integer({ min: MIN, max: MAX }), (ms) => {
      assert.deepEqual(wallFields("UTC", ms), wallFields("Etc/UTC", ms));
      assert.equal(zoneOffsetMs("UTC", ms), zoneOffsetMs("Etc/UTC", ms));
    }),
    { numRuns: 2000, examples: [[0], [-62135596800000], [-62135596800001], [MIN], [MAX]] },
  );
});
