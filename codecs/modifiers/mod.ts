/**
 * Shaping data declaratively: config modifiers on the data-model JSON, HL7 v2 edits, and
 * translation sets. Pure: no I/O. Everything is compiled (and validated, with problems whose
 * paths are relative to the list) once, then applied per message.
 *
 * ```ts
 * const c = compileModifiers([
 *   { flavor: "put", selector: "Patient.Demographics.Sex", schema: { translate: "localSex" } },
 *   { flavor: "delete", selector: "Patient.Demographics.SSN" },
 * ], { translationSets: new Set(["localSex"]) });
 * if (c.ok) applyModifiers(c.list, json, { translationSets: sets }); // → value, runs (paths)
 * ```
 *
 * @module
 */

export {
  compileCondition,
  type Condition,
  type ConditionEnv,
  looseEquals,
  type Operator,
  OPERATORS,
} from "./condition.ts";
export { diffJson, type JsonChange, MAX_DIFF_ENTRIES } from "./diff.ts";
export {
  applyHl7Edits,
  compileHl7Edits,
  expandHl7Pattern,
  HL7_OPS,
  type Hl7EditList,
  type Hl7EditResult,
  type Hl7EditRun,
  type Hl7Op,
  type Hl7Pattern,
  MAX_EDITS,
  parseHl7Pattern,
} from "./hl7_edits.ts";
export {
  formatKeys,
  type JsonKeys,
  parseSelector,
  readSelector,
  selectAll,
  type Selector,
  SelectorError,
  type SelectorMatch,
  type SelectorStep,
} from "./json_selector.ts";
export {
  applyModifiers,
  type ApplyOptions,
  changedPaths,
  type CompiledModifier,
  compileModifiers,
  type Flavor,
  MAX_MODIFIERS,
  type ModifierList,
  type ModifierResult,
  type ModifierRun,
  sameJson,
} from "./modifier.ts";
export { formatProblems, ModifierFailure, type Problem } from "./problems.ts";
export { compileSafeRegex, type SafeRegex, SafeRegexError } from "./safe_regex.ts";
export { SCHEMA_KEYWORDS, type SchemaEnv } from "./schema.ts";
export {
  compileTranslationSets,
  type CsvResult,
  isSetName,
  lookup,
  MAX_SET_ENTRIES,
  ON_MISSING,
  type OnMissing,
  parseTranslationCsv,
  type TranslationSet,
  type TranslationSets,
} from "./translation_set.ts";
