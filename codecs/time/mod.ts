/**
 * HL7 v2 DTM/TS ⇄ ISO 8601 conversion with IANA time zones, preserving precision.
 *
 * - {@link hl7ToIso} / {@link tryHl7ToIso}: HL7 → ISO (dates stay dates, date-times → UTC `Z`).
 * - {@link isoToHl7} / {@link tryIsoToHl7}: ISO → HL7 (wall time of a zone, with offset).
 * - {@link nowHl7}: a `Date` as `YYYYMMDDHHMMSS±ZZZZ` for MSH-7.
 *
 * @module
 */
export {
  hl7ToIso,
  type Hl7ToIsoOptions,
  isoToHl7,
  type IsoToHl7Options,
  nowHl7,
  tryHl7ToIso,
  tryIsoToHl7,
} from "./convert.ts";
export {
  Hl7TimeError,
  type Hl7TimeErrorCode,
  type Hl7TimeErrorOptions,
  type Hl7TimeResult,
} from "./errors.ts";
