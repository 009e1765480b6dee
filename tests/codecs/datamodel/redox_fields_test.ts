/**
 * Every field of Redox's published data models (redox_fields.ts) either maps both ways (a row of
 * the model's table, or a property handled outside the tables) or is in the documented
 * not-mapped list, whose every entry the README names; nothing in between.
 */

import assert from "node:assert/strict";
import { MAPPED_ELSEWHERE, NOT_MAPPED, notMapped } from "../../../codecs/datamodel/not_mapped.ts";
import { mappedPaths } from "../../../codecs/datamodel/validate.ts";
import type { DataModelName } from "../../../codecs/datamodel/mod.ts";
import { REDOX_FIELDS } from "./redox_fields.ts";

const README = await Deno.readTextFile(new URL("../../../README.md", import.meta.url));

for (const [model, fields] of Object.entries(REDOX_FIELDS)) {
  Deno.test(`${model}: every published field maps both ways or is documented as not mapped`, async (t) => {
    const mapped = new Set([
      ...mappedPaths(model as DataModelName),
      ...MAPPED_ELSEWHERE["*"]!,
      ...(MAPPED_ELSEWHERE[model] ?? []),
    ]);
    for (const field of fields) {
      await t.step(field, () => {
        const gap = notMapped(model, field);
        assert.ok(
          mapped.has(field) || gap !== undefined,
          `${model} ${field}: neither mapped nor in NOT_MAPPED`,
        );
        // A documented gap that the table does map is a stale entry.
        assert.ok(!(mapped.has(field) && gap), `${model} ${field}: mapped, yet listed as a gap`);
      });
    }
  });
}

Deno.test("every not-mapped entry has a reason and is listed in the README", () => {
  for (const [model, gaps] of Object.entries(NOT_MAPPED)) {
    for (const g of gaps) {
      assert.ok(g.reason.length > 5, `${model} ${g.path}: no reason`);
      assert.ok(README.includes(`\`${g.path}\``), `README does not list ${model} ${g.path}`);
    }
  }
});
