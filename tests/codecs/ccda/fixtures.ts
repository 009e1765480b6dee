/**
 * C-CDA fixtures written from the C-CDA 2.1 companion guide's sample CCD (header, and one entry
 * per section with the entry templates the guide shows), plus the same header under the other
 * document templates.
 *
 * @module
 */

const T = "2.16.840.1.113883.10.20.22.";

function tid(root: string): string {
  return `<templateId root="${root}"/><templateId root="${root}" extension="2015-08-01"/>`;
}

function section(root: string, loinc: string, title: string, entries: string): string {
  return `<component><section>${
    tid(T + root)
  }<code code="${loinc}" codeSystem="2.16.840.1.113883.6.1"/>` +
    `<title>${title}</title><text>${title}</text>${entries}</section></component>`;
}

/** The header of a C-CDA document of the given document template. */
export function header(documentTemplate: string, title: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  ${tid(T + "1.1")}
  ${tid(documentTemplate)}
  <id root="2.16.840.1.113883.19.5.99999.1" extension="TT988"/>
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Summarization of Episode Note"/>
  <title>${title}</title>
  <effectiveTime value="20130815083005-0500"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="en-US"/>
  <recordTarget>
    <patientRole>
      <id root="2.16.840.1.113883.19.5.99999.2" extension="998991"/>
      <id root="2.16.840.1.113883.4.1" extension="111-00-2330"/>
      <addr use="HP"><streetAddressLine>1357 Amber Drive</streetAddressLine><city>Beaverton</city><state>OR</state><postalCode>97867</postalCode><country>US</country></addr>
      <telecom value="tel:+1(555)555-2003" use="HP"/>
      <patient>
        <name use="L"><given>Eve</given><given>Marie</given><family>Everywoman</family></name>
        <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1" displayName="Female"/>
        <birthTime value="19750501"/>
        <maritalStatusCode code="M" displayName="Married" codeSystem="2.16.840.1.113883.5.2"/>
        <raceCode code="2106-3" displayName="White" codeSystem="2.16.840.1.113883.6.238"/>
        <ethnicGroupCode code="2186-5" displayName="Not Hispanic or Latino" codeSystem="2.16.840.1.113883.6.238"/>
        <languageCommunication><languageCode code="en"/></languageCommunication>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="20130815083005-0500"/>
    <assignedAuthor>
      <id extension="5555555555" root="2.16.840.1.113883.4.6"/>
      <addr><streetAddressLine>1004 Healthcare Drive</streetAddressLine><city>Portland</city><state>OR</state><postalCode>97266</postalCode></addr>
      <telecom use="WP" value="tel:+1(555)555-1004"/>
      <assignedPerson><name><given>Patricia</given><family>Primary</family></name></assignedPerson>
      <representedOrganization><name>Good Health Clinic</name></representedOrganization>
    </assignedAuthor>
  </author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id extension="99999999" root="2.16.840.1.113883.4.6"/><name>Community Health and Hospitals</name>
    <telecom value="tel:+1(555)555-5000" use="WP"/>
    <addr><streetAddressLine>1001 Village Avenue</streetAddressLine><city>Portland</city><state>OR</state><postalCode>99123</postalCode></addr>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <componentOf><encompassingEncounter>
    <id root="2.16.840.1.113883.19" extension="9937012"/>
    <code code="99213" codeSystem="2.16.840.1.113883.6.12" displayName="Office outpatient visit 15 minutes"/>
    <effectiveTime><low value="20130815080000-0500"/><high value="20130815091500-0500"/></effectiveTime>
    <location><healthCareFacility><location><name>Good Health Clinic</name></location></healthCareFacility></location>
  </encompassingEncounter></componentOf>`;
}

const body = `
  <component><structuredBody>
  ${
  section(
    "2.6.1",
    "48765-2",
    "Allergies",
    `<entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">${tid(T + "4.30")}
      <id root="36e3e930-7b14-11db-9fe1-0800200c9a66"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
      <statusCode code="active"/><effectiveTime><low value="20100103"/></effectiveTime>
      <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">${
      tid(T + "4.7")
    }
        <id root="4adc1020-7b14-11db-9fe1-0800200c9a66"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
        <statusCode code="completed"/><effectiveTime><low value="19980501"/></effectiveTime>
        <value xsi:type="CD" code="419511003" displayName="Propensity to adverse reactions to drug" codeSystem="2.16.840.1.113883.6.96"/>
        <participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT">
          <code code="7982" displayName="Penicillin G benzathine" codeSystem="2.16.840.1.113883.6.88"/>
        </playingEntity></participantRole></participant>
        <entryRelationship typeCode="MFST" inversionInd="true"><observation classCode="OBS" moodCode="EVN">${
      tid(T + "4.9")
    }
          <id root="4adc1020-7b14-11db-9fe1-0800200c9a64"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
          <statusCode code="completed"/><value xsi:type="CD" code="247472004" displayName="Hives" codeSystem="2.16.840.1.113883.6.96"/>
          <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">${
      tid(T + "4.8")
    }
            <code code="SEV" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>
            <value xsi:type="CD" code="6736007" displayName="Moderate" codeSystem="2.16.840.1.113883.6.96"/>
          </observation></entryRelationship>
        </observation></entryRelationship>
      </observation></entryRelationship>
    </act></entry>`,
  )
}
  ${
  section(
    "2.1.1",
    "10160-0",
    "Medications",
    `<entry typeCode="DRIV"><substanceAdministration classCode="SBADM" moodCode="EVN">${
      tid(T + "4.16")
    }
      <id root="cdbd33f0-6cde-11db-9fe1-0800200c9a66"/><statusCode code="active"/>
      <effectiveTime xsi:type="IVL_TS"><low value="20110301"/><high value="20120301"/></effectiveTime>
      <effectiveTime xsi:type="PIVL_TS" institutionSpecified="true" operator="A"><period value="12" unit="h"/></effectiveTime>
      <routeCode code="C38216" codeSystem="2.16.840.1.113883.3.26.1.1" displayName="RESPIRATORY (INHALATION)"/>
      <doseQuantity value="1" unit="mg/actuat"/>
      <consumable><manufacturedProduct classCode="MANU">${tid(T + "4.23")}<manufacturedMaterial>
        <code code="573621" displayName="Proventil 0.09 MG/ACTUAT inhalant solution" codeSystem="2.16.840.1.113883.6.88"/>
      </manufacturedMaterial></manufacturedProduct></consumable>
    </substanceAdministration></entry>`,
  )
}
  ${
  section(
    "2.5.1",
    "11450-4",
    "Problems",
    `<entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">${tid(T + "4.3")}
      <id root="102ca2e8-8e3a-4c1a-9d3a-0d6c5e29f1e6"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
      <statusCode code="active"/><effectiveTime><low value="20131001"/></effectiveTime>
      <entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN">${
      tid(T + "4.4")
    }
        <id root="ab1791b0-5c71-11db-b0de-0800200c9a66"/>
        <code code="55607006" displayName="Problem" codeSystem="2.16.840.1.113883.6.96"/>
        <statusCode code="completed"/><effectiveTime><low value="20131001"/></effectiveTime>
        <value xsi:type="CD" code="195967001" displayName="Asthma" codeSystem="2.16.840.1.113883.6.96">
          <translation code="J45.909" codeSystem="2.16.840.1.113883.6.90"/>
        </value>
      </observation></entryRelationship>
    </act></entry>`,
  )
}
  ${
  section(
    "2.3.1",
    "30954-2",
    "Results",
    `<entry typeCode="DRIV"><organizer classCode="BATTERY" moodCode="EVN">${tid(T + "4.1")}
      <id root="7d5a02b0-67a4-11db-bd13-0800200c9a66"/>
      <code code="57021-8" displayName="CBC W Auto Differential panel - Blood" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="completed"/><effectiveTime><low value="200803190830-0800"/><high value="200803190830-0800"/></effectiveTime>
      <component><observation classCode="OBS" moodCode="EVN">${tid(T + "4.2")}
        <id root="107c2dc0-67a5-11db-bd13-0800200c9a66"/>
        <code code="718-7" displayName="Hemoglobin [Mass/volume] in Blood" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="200803190830-0800"/>
        <value xsi:type="PQ" value="13.2" unit="g/dL"/>
        <interpretationCode code="N" codeSystem="2.16.840.1.113883.5.83"/>
        <referenceRange><observationRange><value xsi:type="IVL_PQ"><low value="12.0" unit="g/dL"/><high value="15.5" unit="g/dL"/></value></observationRange></referenceRange>
      </observation></component>
      <component><observation classCode="OBS" moodCode="EVN">${tid(T + "4.2")}
        <id root="107c2dc0-67a5-11db-bd13-0800200c9a67"/>
        <code code="26464-8" displayName="Leukocytes [#/volume] in Blood" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="200803190830-0800"/>
        <value xsi:type="PQ" value="6.7" unit="10+3/uL"/>
        <interpretationCode code="N" codeSystem="2.16.840.1.113883.5.83"/>
        <referenceRange><observationRange><text>4.3-10.8 10+3/uL</text></observationRange></referenceRange>
      </observation></component>
    </organizer></entry>`,
  )
}
  ${
  section(
    "2.4.1",
    "8716-3",
    "Vital Signs",
    `<entry typeCode="DRIV"><organizer classCode="CLUSTER" moodCode="EVN">${tid(T + "4.26")}
      <id root="c6f88320-67ad-11db-bd13-0800200c9a66"/>
      <code code="46680005" displayName="Vital signs" codeSystem="2.16.840.1.113883.6.96"/>
      <statusCode code="completed"/><effectiveTime value="20130815"/>
      <component><observation classCode="OBS" moodCode="EVN">${tid(T + "4.27")}
        <id root="c6f88321-67ad-11db-bd13-0800200c9a66"/>
        <code code="8302-2" displayName="Height" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20130815"/><value xsi:type="PQ" value="177" unit="cm"/>
      </observation></component>
      <component><observation classCode="OBS" moodCode="EVN">${tid(T + "4.27")}
        <id root="c6f88321-67ad-11db-bd13-0800200c9a67"/>
        <code code="8480-6" displayName="Systolic blood pressure" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/><effectiveTime value="20130815"/><value xsi:type="PQ" value="132" unit="mm[Hg]"/>
      </observation></component>
    </organizer></entry>`,
  )
}
  ${
  section(
    "2.2.1",
    "11369-6",
    "Immunizations",
    `<entry typeCode="DRIV"><substanceAdministration classCode="SBADM" moodCode="EVN" negationInd="false">${
      tid(T + "4.52")
    }
      <id root="e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f92"/><statusCode code="completed"/>
      <effectiveTime value="20100815"/>
      <routeCode code="C28161" codeSystem="2.16.840.1.113883.3.26.1.1" displayName="INTRAMUSCULAR"/>
      <doseQuantity value="50" unit="ug"/>
      <consumable><manufacturedProduct classCode="MANU">${tid(T + "4.54")}<manufacturedMaterial>
        <code code="88" codeSystem="2.16.840.1.113883.12.292" displayName="Influenza virus vaccine"/>
      </manufacturedMaterial></manufacturedProduct></consumable>
    </substanceAdministration></entry>`,
  )
}
  ${
  section(
    "2.7.1",
    "47519-4",
    "Procedures",
    `<entry typeCode="DRIV"><procedure classCode="PROC" moodCode="EVN">${tid(T + "4.14")}
      <id root="d68b7e32-7810-4f5b-9cc2-acd54b0fd85d"/>
      <code code="73761001" codeSystem="2.16.840.1.113883.6.96" displayName="Colonoscopy"/>
      <statusCode code="completed"/><effectiveTime value="20120512"/>
    </procedure></entry>`,
  )
}
  ${
  section(
    "2.22.1",
    "46240-8",
    "Encounters",
    `<entry typeCode="DRIV"><encounter classCode="ENC" moodCode="EVN">${tid(T + "4.49")}
      <id root="2a620155-9d11-439e-92b3-5d9815ff4de8"/>
      <code code="99213" displayName="Office outpatient visit 15 minutes" codeSystem="2.16.840.1.113883.6.12"/>
      <effectiveTime value="201308150800-0500"/>
    </encounter></entry>`,
  )
}
  ${
  section(
    "2.10",
    "18776-5",
    "Plan of Treatment",
    `<entry><observation classCode="OBS" moodCode="RQO">${tid(T + "4.44")}
      <id root="9a6d1bac-17d3-4195-89a4-1121bc809b4a"/>
      <code code="24357-6" displayName="Urinanalysis macro (dipstick) panel" codeSystem="2.16.840.1.113883.6.1"/>
      <statusCode code="active"/><effectiveTime value="20130901"/>
    </observation></entry>`,
  )
}
  ${
  section(
    "2.17",
    "29762-2",
    "Social History",
    `<entry typeCode="DRIV"><observation classCode="OBS" moodCode="EVN">${tid(T + "4.78")}
      <id extension="123456789" root="2.16.840.1.113883.19"/>
      <code code="72166-2" codeSystem="2.16.840.1.113883.6.1" displayName="Tobacco smoking status NHIS"/>
      <statusCode code="completed"/><effectiveTime value="20130815"/>
      <value xsi:type="CD" code="8517006" displayName="Former smoker" codeSystem="2.16.840.1.113883.6.96"/>
    </observation></entry>`,
  )
}
  </structuredBody></component>
</ClinicalDocument>
`;

/** The sample CCD. */
export const CCD = header(T + "1.2", "Community Health and Hospitals: Health Summary") + body;

/** The same content under another document template. */
export function documentOf(templateRoot: string, title: string): string {
  return header(templateRoot, title) + body;
}
