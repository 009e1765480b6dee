/** Test helper: a bundle as a FHIR app that ignores the engine's extensions would see it. */

import { EXT_DATA_MODEL, EXT_HL7V2, type FhirBundle } from "../../../codecs/fhir/mod.ts";

/** The bundle with our two extensions removed everywhere: what a plain FHIR app sees. */
export function stripOurs(bundle: FhirBundle): FhirBundle {
  const copy = structuredClone(bundle);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null) {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o.extension)) {
        o.extension = o.extension.filter((e: { url?: string }) =>
          e.url !== EXT_HL7V2 && e.url !== EXT_DATA_MODEL
        );
        if ((o.extension as unknown[]).length === 0) delete o.extension;
      }
      Object.values(o).forEach(walk);
    }
  };
  walk(copy);
  return copy;
}
