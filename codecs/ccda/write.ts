/**
 * Writing a {@link ClinicalSummary} as a C-CDA 2.1 CCD: US Realm Header and CCD templateIds,
 * header, and the ten sections with their templateIds, LOINC codes, a narrative table and one
 * entry per item, using the entry templates the reader recognises. Times are written as HL7 TS in
 * UTC (`+0000`); dates stay dates.
 *
 * @module
 */

import { tryIsoToHl7 } from "../time/mod.ts";
import type {
  Address,
  ClinicalEntry,
  ClinicalSummary,
  Code,
  Identifier,
  Observation,
  Party,
  Value,
} from "./model.ts";
import { codeSystemOid, type SectionInfo, SECTIONS } from "./vocab.ts";
import { esc } from "./xml.ts";

const V = "2015-08-01";
const T = "2.16.840.1.113883.10.20.22.";

function ts(tag: string, iso: string | undefined): string {
  if (iso === undefined) return `<${tag} nullFlavor="UNK"/>`;
  const r = tryIsoToHl7(iso);
  return r.ok ? `<${tag} value="${esc(r.value)}"/>` : `<${tag} nullFlavor="UNK"/>`;
}

function interval(e: { DateTime?: string; StartDate?: string; EndDate?: string }): string {
  if (e.StartDate === undefined && e.EndDate === undefined) return ts("effectiveTime", e.DateTime);
  return `<effectiveTime>${e.StartDate ? ts("low", e.StartDate) : '<low nullFlavor="UNK"/>'}${
    e.EndDate ? ts("high", e.EndDate) : ""
  }</effectiveTime>`;
}

function code(tag: string, c: Code | undefined, extra = ""): string {
  if (c === undefined) return `<${tag}${extra} nullFlavor="UNK"/>`;
  const system = c.CodeSystem ?? (c.CodeSystemName ? codeSystemOid(c.CodeSystemName) : undefined);
  const a = [
    c.Code !== undefined ? ` code="${esc(c.Code)}"` : ` nullFlavor="OTH"`,
    system ? ` codeSystem="${esc(system)}"` : "",
    c.CodeSystemName ? ` codeSystemName="${esc(c.CodeSystemName)}"` : "",
    c.Name !== undefined ? ` displayName="${esc(c.Name)}"` : "",
  ].join("");
  return `<${tag}${extra}${a}/>`;
}

function value(v: Value | undefined): string {
  if (v === undefined) return "";
  if (v.Code) return code("value", v.Code, ` xsi:type="${esc(v.Type ?? "CD")}"`);
  const type = v.Type ?? (v.Unit !== undefined ? "PQ" : "ST");
  if (type === "ST") return `<value xsi:type="ST">${esc(v.Value ?? "")}</value>`;
  return `<value xsi:type="${esc(type)}" value="${esc(v.Value ?? "")}"${
    v.Unit ? ` unit="${esc(v.Unit)}"` : ""
  }/>`;
}

function ids(list: Identifier[] | undefined): string {
  if (!list || list.length === 0) return `<id nullFlavor="NI"/>`;
  return list.map((i) =>
    i.IDType === "root"
      ? `<id root="${esc(i.ID)}"/>`
      : `<id root="${esc(codeSystemOid(i.IDType) ?? i.IDType)}" extension="${esc(i.ID)}"/>`
  ).join("");
}

function addr(a: Address | undefined): string {
  if (!a) return `<addr nullFlavor="UNK"/>`;
  const part = (tag: string, v: string | undefined) => v ? `<${tag}>${esc(v)}</${tag}>` : "";
  return `<addr use="HP">${part("streetAddressLine", a.StreetAddress)}${part("city", a.City)}${
    part("state", a.State)
  }${part("postalCode", a.ZIP)}${part("country", a.Country)}</addr>`;
}

function tel(p: string | undefined): string {
  return p ? `<telecom use="HP" value="tel:${esc(p)}"/>` : `<telecom nullFlavor="UNK"/>`;
}

function name(p: { FirstName?: string; MiddleName?: string; LastName?: string }): string {
  const g = [p.FirstName, p.MiddleName].filter((x) => x !== undefined)
    .map((x) => `<given>${esc(x!)}</given>`).join("");
  return `<name use="L">${g}${p.LastName ? `<family>${esc(p.LastName)}</family>` : ""}</name>`;
}

function tid(root: string): string {
  return `<templateId root="${root}"/><templateId root="${root}" extension="${V}"/>`;
}

function observationXml(o: Observation, template: string): string {
  return `<component><observation classCode="OBS" moodCode="EVN">${
    tid(template)
  }<id nullFlavor="NI"/>${code("code", o.Code)}${
    o.Status ? `<statusCode code="${esc(o.Status)}"/>` : '<statusCode code="completed"/>'
  }${ts("effectiveTime", o.DateTime)}${value(o.Value)}${
    o.Interpretation ? code("interpretationCode", o.Interpretation) : ""
  }${
    o.ReferenceRange
      ? `<referenceRange><observationRange><text>${
        esc(o.ReferenceRange)
      }</text></observationRange></referenceRange>`
      : ""
  }</observation></component>`;
}

function substanceAdministration(
  e: ClinicalEntry,
  template: string,
  productTemplate: string,
): string {
  const freq = e.Frequency
    ? `<effectiveTime xsi:type="PIVL_TS" institutionSpecified="true" operator="A"><period value="${
      esc(e.Frequency.Value ?? "")
    }"${e.Frequency.Unit ? ` unit="${esc(e.Frequency.Unit)}"` : ""}/></effectiveTime>`
    : "";
  return `<substanceAdministration classCode="SBADM" moodCode="${esc(e.Mood ?? "EVN")}">${
    tid(template)
  }${ids(e.Identifiers)}<statusCode code="${esc(e.Status ?? "completed")}"/>${interval(e)}${freq}${
    e.Route ? code("routeCode", e.Route) : ""
  }${
    e.Dose
      ? `<doseQuantity value="${esc(e.Dose.Value ?? "")}"${
        e.Dose.Unit ? ` unit="${esc(e.Dose.Unit)}"` : ""
      }/>`
      : ""
  }<consumable><manufacturedProduct classCode="MANU">${tid(productTemplate)}<manufacturedMaterial>${
    code("code", e.Product)
  }</manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration>`;
}

function entryXml(key: SectionInfo["key"], e: ClinicalEntry): string {
  const st = `<statusCode code="${esc(e.Status ?? "completed")}"/>`;
  switch (key) {
    case "Allergies": {
      const reactions = (e.Reactions ?? []).map((r) =>
        `<entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN">${
          tid(T + "4.9")
        }<id nullFlavor="NI"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>${
          value({ Code: r })
        }</observation></entryRelationship>`
      ).join("");
      const severity = e.Severity
        ? `<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">${
          tid(T + "4.8")
        }<code code="SEV" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>${
          value({ Code: e.Severity })
        }</observation></entryRelationship>`
        : "";
      return `<act classCode="ACT" moodCode="EVN">${tid(T + "4.30")}${
        ids(e.Identifiers)
      }<code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>${st}${
        interval(e)
      }<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">${
        tid(T + "4.7")
      }<id nullFlavor="NI"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>${
        interval(e)
      }${
        value({ Code: e.Code })
      }<participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">${
        code("code", e.Product)
      }</playingEntity></participantRole></participant>${reactions}${severity}</observation></entryRelationship></act>`;
    }
    case "Problems":
      return `<act classCode="ACT" moodCode="EVN">${tid(T + "4.3")}${
        ids(e.Identifiers)
      }<code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>${st}${
        interval(e)
      }<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">${
        tid(T + "4.4")
      }<id nullFlavor="NI"/><code code="55607006" codeSystem="2.16.840.1.113883.6.96" displayName="Problem"/><statusCode code="completed"/>${
        interval(e)
      }${value({ Code: e.Code })}</observation></entryRelationship></act>`;
    case "Medications":
      return substanceAdministration(e, T + "4.16", T + "4.23");
    case "Immunizations":
      return substanceAdministration(e, T + "4.52", T + "4.54");
    case "Results":
    case "VitalSigns": {
      const [org, obs] = key === "Results" ? [T + "4.1", T + "4.2"] : [T + "4.26", T + "4.27"];
      return `<organizer classCode="${key === "Results" ? "BATTERY" : "CLUSTER"}" moodCode="EVN">${
        tid(org)
      }${ids(e.Identifiers)}${code("code", e.Code)}${st}${interval(e)}${
        (e.Observations ?? []).map((o) => observationXml(o, obs)).join("")
      }</organizer>`;
    }
    case "Procedures":
      return `<procedure classCode="PROC" moodCode="${esc(e.Mood ?? "EVN")}">${tid(T + "4.14")}${
        ids(e.Identifiers)
      }${code("code", e.Code)}${st}${interval(e)}</procedure>`;
    case "Encounters":
      return `<encounter classCode="ENC" moodCode="${esc(e.Mood ?? "EVN")}">${tid(T + "4.49")}${
        ids(e.Identifiers)
      }${code("code", e.Code)}${interval(e)}</encounter>`;
    case "PlanOfCare":
      if (e.Product) {
        return substanceAdministration({ ...e, Mood: e.Mood ?? "INT" }, T + "4.42", T + "4.23");
      }
      return `<observation classCode="OBS" moodCode="${esc(e.Mood ?? "RQO")}">${tid(T + "4.44")}${
        ids(e.Identifiers)
      }${code("code", e.Code)}${st}${interval(e)}${value(e.Value)}</observation>`;
    case "SocialHistory":
      return `<observation classCode="OBS" moodCode="EVN">${tid(T + "4.38")}${ids(e.Identifiers)}${
        code("code", e.Code)
      }${st}${interval(e)}${value(e.Value)}</observation>`;
  }
}

/** A plain narrative: one row per entry naming what it is, so the document reads for a human. */
function narrative(entries: ClinicalEntry[]): string {
  if (entries.length === 0) return "<text>No information</text>";
  const label = (e: ClinicalEntry) =>
    e.Product?.Name ?? e.Code?.Name ?? e.Product?.Code ?? e.Code?.Code ?? e.Text ?? "";
  const when = (e: ClinicalEntry) => e.DateTime ?? e.StartDate ?? "";
  return `<text><table border="1"><thead><tr><th>Item</th><th>Status</th><th>Date</th></tr></thead><tbody>${
    entries.map((e) =>
      `<tr><td>${esc(label(e))}</td><td>${esc(e.Status ?? "")}</td><td>${esc(when(e))}</td></tr>`
    )
      .join("")
  }</tbody></table></text>`;
}

function party(p: Party | undefined): { ids: string; addr: string; tel: string } {
  return { ids: ids(p?.Identifiers), addr: addr(p?.Address), tel: tel(p?.PhoneNumber) };
}

/** Writes a summary as a C-CDA 2.1 Continuity of Care Document. */
export function writeCcd(s: ClinicalSummary): string {
  const d = s.Patient.Demographics;
  const sex = d.Sex === "Male" ? "M" : d.Sex === "Female" ? "F" : "UN";
  const author = party(s.Header.Author);
  const custodian = party(s.Header.Custodian);
  const enc = s.Header.Encounter;
  const sections = SECTIONS.map((info) => {
    const entries = s[info.key];
    const nullFlavor = entries.length === 0 ? ' nullFlavor="NI"' : "";
    return `<component><section${nullFlavor}>${
      tid(info.templateId)
    }<code code="${info.loinc}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"/><title>${
      esc(info.title)
    }</title>${narrative(entries)}${
      entries.map((e) => `<entry typeCode="DRIV">${entryXml(info.key, e)}</entry>`).join("")
    }</section></component>`;
  }).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc">` +
    `<realmCode code="US"/><typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>` +
    `${tid(T + "1.1")}${tid(T + "1.2")}${
      s.Meta.DocumentId ? ids([s.Meta.DocumentId]) : ids(undefined)
    }` +
    `<code code="34133-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Summarization of Episode Note"/>` +
    `<title>${esc(s.Meta.Title ?? "Continuity of Care Document")}</title>${
      ts("effectiveTime", s.Meta.CreationDateTime)
    }` +
    `<confidentialityCode code="${
      esc(s.Meta.Confidentiality ?? "N")
    }" codeSystem="2.16.840.1.113883.5.25"/>` +
    `<languageCode code="${esc(s.Meta.Language ?? "en-US")}"/>` +
    `<recordTarget><patientRole>${ids(s.Patient.Identifiers)}${addr(d.Address)}${
      tel(d.PhoneNumber)
    }<patient>${name(d)}` +
    `<administrativeGenderCode code="${sex}" codeSystem="2.16.840.1.113883.5.1"/>${
      ts("birthTime", d.DOB)
    }` +
    `${d.MaritalStatus ? code("maritalStatusCode", d.MaritalStatus) : ""}${
      d.Race ? code("raceCode", d.Race) : ""
    }` +
    `${d.Ethnicity ? code("ethnicGroupCode", d.Ethnicity) : ""}` +
    `${
      d.Language
        ? `<languageCommunication><languageCode code="${esc(d.Language)}"/></languageCommunication>`
        : ""
    }` +
    `</patient></patientRole></recordTarget>` +
    `<author>${
      ts("time", s.Header.Author?.DateTime ?? s.Meta.CreationDateTime)
    }<assignedAuthor>${author.ids}${author.addr}${author.tel}` +
    `${
      s.Header.Author?.FirstName || s.Header.Author?.LastName
        ? `<assignedPerson>${name(s.Header.Author)}</assignedPerson>`
        : ""
    }` +
    `${
      s.Header.Author?.Organization
        ? `<representedOrganization><name>${
          esc(s.Header.Author.Organization)
        }</name></representedOrganization>`
        : ""
    }` +
    `</assignedAuthor></author>` +
    `<custodian><assignedCustodian><representedCustodianOrganization>${custodian.ids}<name>${
      esc(s.Header.Custodian?.Organization ?? "Unknown")
    }</name>${custodian.tel}${custodian.addr}</representedCustodianOrganization></assignedCustodian></custodian>` +
    `<documentationOf><serviceEvent classCode="PCPR">${
      interval({})
    }</serviceEvent></documentationOf>` +
    (enc
      ? `<componentOf><encompassingEncounter>${ids(enc.Identifiers)}${
        enc.Type ? code("code", enc.Type) : ""
      }${interval({ StartDate: enc.StartDate, EndDate: enc.EndDate })}${
        enc.Location
          ? `<location><healthCareFacility><location><name>${
            esc(enc.Location)
          }</name></location></healthCareFacility></location>`
          : ""
      }</encompassingEncounter></componentOf>`
      : "") +
    `<component><structuredBody>${sections}</structuredBody></component></ClinicalDocument>\n`;
}
