/**
 * Table pieces shared by the resources: names, addresses, telecom, codeable concepts, contained
 * practitioners, organizations and locations, and references to the message's patient and
 * encounter.
 *
 * @module
 */

import { getPath, isObject, type JsonObject, setPath } from "../../datamodel/json_path.ts";
import { codingSystem, idSystem, str } from "../codes.ts";
import { readFhir, writeFhir } from "../fhir_path.ts";
import { fromResource, toResource } from "../map.ts";
import {
  dmUnder,
  each,
  fixed,
  type FnRule,
  type MapContext,
  path,
  type ResourceMap,
  type Rule,
} from "../rules.ts";

/** XPN → HumanName at `fx`. */
export function humanName(fx: string): Rule[] {
  return [
    path("LastName", `${fx}.family`),
    path("FirstName", `${fx}.given[0]`),
    path("MiddleName", `${fx}.given[1]`),
  ];
}

/** XAD → Address at `fx`. */
export function address(fx: string): Rule[] {
  return [
    path("StreetAddress", `${fx}.line[0]`),
    path("City", `${fx}.city`),
    path("State", `${fx}.state`),
    path("ZIP", `${fx}.postalCode`),
    path("Country", `${fx}.country`),
    path("County", `${fx}.district`),
  ];
}

/** `PhoneNumber.{Home,Mobile,Office}` and `EmailAddresses[]` → `telecom`. */
export function telecom(prefix = ""): Rule[] {
  const p = prefix === "" ? "" : `${prefix}.`;
  return [
    path(`${p}PhoneNumber.Home`, "telecom[system=phone,use=home].value"),
    path(`${p}PhoneNumber.Mobile`, "telecom[system=phone,use=mobile].value"),
    path(`${p}PhoneNumber.Office`, "telecom[system=phone,use=work].value"),
    each(`${p}EmailAddresses`, "telecom", [path("", "value")], { fixed: { system: "email" } }),
  ];
}

/** CE/CWE (`Code`, `Description` or another name, `Codeset`) → CodeableConcept at `fx`. */
export function concept(fx: string, name = "Description"): Rule[] {
  return [
    path("Code", `${fx}.coding[0].code`, str),
    path(name, `${fx}.coding[0].display`, str),
    path("Codeset", `${fx}.coding[0].system`, codingSystem),
  ];
}

/** A reference to one of the message's main resources (`Patient`, `Encounter`). */
export function refTo(fx: string, target: string): Rule {
  return fixed(fx, (_obj, ctx) => {
    const r = ctx.refs[target];
    return r === undefined ? undefined : { reference: r };
  });
}

/** XCN → Practitioner (contained). */
export const PRACTITIONER: ResourceMap = {
  resourceType: "Practitioner",
  rules: [
    path("ID", "identifier[0].value"),
    path("IDType", "identifier[0].system", idSystem),
    ...humanName("name[0]"),
  ],
};

/** An organization by id, name, address and phone (IN1 company) → Organization (contained). */
export const ORGANIZATION: ResourceMap = {
  resourceType: "Organization",
  rules: [
    path("ID", "identifier[0].value"),
    path("Name", "name"),
    ...dmUnder("Address", address("address[0]")),
    path("PhoneNumber", "telecom[system=phone].value"),
  ],
};

/** PL → Location (contained): the point of care is its name; the facility manages it. */
export const LOCATION: ResourceMap = {
  resourceType: "Location",
  rules: [
    path("Department", "name"),
    path("Facility", "managingOrganization.display"),
  ],
};

/** Where a contained resource's reference goes. */
export interface Place {
  /** FHIR path of the reference, or of the array its element is appended to. */
  readonly fx: string;
  /** Wraps the reference into an array element (a participant with its type). */
  readonly element?: (ref: JsonObject) => JsonObject;
  /** Finds that element again when reading. */
  readonly find?: (element: JsonObject) => boolean;
  /** Path of the reference inside the element. */
  readonly refAt?: string;
}

function containedId(dm: string): string {
  return dm.replace(/[^A-Za-z0-9]/g, "").toLowerCase();
}

/** The resource a reference points to: contained (`#id`), in the bundle, or display only. */
function resolveRef(
  res: JsonObject,
  ref: unknown,
  ctx: MapContext,
): JsonObject | { display: string } | undefined {
  if (!isObject(ref)) return undefined;
  const r = ref.reference;
  if (typeof r === "string") {
    if (r.startsWith("#")) {
      const list = Array.isArray(res.contained) ? res.contained : [];
      const hit = list.find((c) => isObject(c) && c.id === r.slice(1));
      if (isObject(hit)) return hit;
    } else {
      const hit = ctx.resolve(r);
      if (hit !== undefined) return hit;
    }
  }
  return typeof ref.display === "string" ? { display: ref.display } : undefined;
}

/**
 * The data-model object at `dm` as a contained resource of the table `map`, referenced from
 * `place`; read back from a contained resource, a resource of the bundle, or a display name
 * (as `displayAs`).
 */
export function contained(
  dm: string,
  map: ResourceMap,
  place: Place,
  displayAs = "LastName",
): FnRule {
  const id = containedId(dm);
  return {
    kind: "fn",
    toFhir(obj, res, ctx) {
      const v = getPath(obj, dm);
      if (!isObject(v)) return;
      const r = toResource(map, v, ctx);
      let keys = 0;
      for (const _ in r) if (++keys > 1) break;
      if (keys <= 1) return;
      // `{resourceType, id, ...r}` with `r.id` set (same keys, same order), without the spread.
      const copy: JsonObject = { resourceType: r.resourceType, id };
      for (const k in r) if (k !== "id") copy[k] = r[k];
      const list = Array.isArray(res.contained) ? res.contained : (res.contained = []);
      (list as unknown[]).push(copy);
      const ref = { reference: `#${id}` };
      if (place.element === undefined) writeFhir(res, place.fx, ref);
      else {
        const arr = readFhirArray(res, place.fx);
        arr.push(place.element(ref));
      }
    },
    toDm(res, obj, ctx) {
      if (getPath(obj, dm) !== undefined) return;
      let ref: unknown;
      if (place.element === undefined) ref = readFhir(res, place.fx);
      else {
        const arr = res[place.fx];
        const el = Array.isArray(arr)
          ? arr.find((e) => isObject(e) && (place.find?.(e) ?? true))
          : undefined;
        ref = isObject(el) && place.refAt ? readFhir(el, place.refAt) : undefined;
      }
      const target = resolveRef(res, ref, ctx);
      if (target === undefined) return;
      if (!("resourceType" in target)) {
        setPath(obj, `${dm}.${displayAs}`, target.display);
        return;
      }
      const v = fromResource(map, target as JsonObject, ctx);
      if (Object.keys(v).length > 0) setPath(obj, dm, v);
    },
  };
}

function readFhirArray(res: JsonObject, name: string): unknown[] {
  let arr = res[name];
  if (!Array.isArray(arr)) res[name] = arr = [];
  return arr as unknown[];
}

/** A provider at `dm` as a contained Practitioner referenced from `place`. */
export function practitioner(dm: string, place: Place): FnRule {
  return contained(dm, PRACTITIONER, place);
}

/** A typed participant element (`Encounter.participant` with a v3 ParticipationType). */
export function participant(code: string): Place {
  const system = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
  return {
    fx: "participant",
    element: (ref) => ({ type: [{ coding: [{ system, code }] }], individual: ref }),
    find: (e) => readFhir(e, "type.coding.code") === code,
    refAt: "individual",
  };
}
