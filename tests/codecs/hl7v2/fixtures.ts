/** Real-looking HL7 v2 messages shared by the hl7v2 codec tests (segments joined by CR). */

/** Joins segments with CR (the standard segment terminator). */
export function cr(...segments: string[]): string {
  return segments.join("\r");
}

/** ADT^A01 with repetitions, escapes, a null, a Z-segment and sub-components. */
export const ADT_A01 = cr(
  "MSH|^~\\&|EPIC|HOSP^1.2.3&ISO|ENGINE|CLINIC|20240102030405+0100||ADT^A01^ADT_A01|MSG00001|P|2.5.1|||AL|NE||UNICODE UTF-8",
  "EVN|A01|20240102030405|||OP123^OPERATOR^OLIVIA",
  'PID|1||123456^^^HOSP^MR~987654321^^^SSA^SS||O\'BRIEN^JOHN^Q^JR^^^L~SMITH&VAN^JACK||19700101|M||2106-3^White^HL70005|1 MAIN ST^APT \\F\\ 3^MADISON^WI^53703^USA^H||(608)555-1234^PRN^PH||""|S||ACCT1|123456789',
  "PV1|1|I|4WEST^412^B^HOSP||||1234^ATTEND^ALICE^^^DR|||MED||||ADM|A0|||||VIS1",
  "PV2|||^Chest pain \\T\\ shortness of breath",
  "ZPI|1|custom^value|\\H\\bold\\N\\ text",
);

/** ORU^R01 with three OBX, a formatted NTE and an ED value with hex escapes. */
export const ORU_R01 = cr(
  "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240102030405||ORU^R01^ORU_R01|LAB0001|P|2.5.1|||AL|NE",
  "PID|1||500000^^^HOSP^MR||DOE^JANE||19800101|F",
  "OBR|1|ORD1|FIL1|58410-2^CBC panel^LN|||20240102030405",
  "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|12.0-17.5|N|||F",
  "OBX|2|ST|GLU^Glucose^L||High \\X48\\ value|mg/dL||H|||F",
  "OBX|3|ED|PDF^Report^L||^AP^PDF^Base64^SGVsbG8=||||||F",
  "NTE|1|L|Line one\\.br\\Line two \\E\\ done",
);

/** SIU^S12 scheduling message. */
export const SIU_S12 = cr(
  "MSH|^~\\&|SCHED|CLINIC|ENGINE|HOSP|20240301090000||SIU^S12^SIU_S12|SIU123|P|2.5",
  "SCH|APT1^SCHED|FILL1|||||ROUTINE^Routine^HL70276|NORMAL|30|MIN|^^30^20240305100000^20240305103000|||||1234^BOOKER^BOB|||||||||BOOKED",
  "PID|1||777^^^CLINIC^MR||ROE^RICHARD||19601231|M",
  "RGS|1|A",
  "AIS|1|A|CONSULT^Consultation^L|20240305100000|0|MIN|30|MIN",
  "AIP|1|A|4321^DOC^DANA^^^DR|MD^Physician",
);

/** MDM^T02 with a multi-line TX document in OBX-5 repetitions. */
export const MDM_T02 = cr(
  "MSH|^~\\&|TRANS|HOSP|ENGINE|HOSP|20240401120000||MDM^T02^MDM_T02|MDM9|P|2.3.1",
  "EVN|T02|20240401120000",
  "PID|1||888^^^HOSP^MR||POE^ED||19900101|M",
  "PV1|1|O",
  "TXA|1|DS|TX|20240401115900|||||||DOC123^^HOSP||||||AU",
  "OBX|1|TX|DS^Discharge summary^L||Patient doing well.~Follow up in 2 weeks \\T\\ call.~~End.||||||F",
);

/** All sample messages by name. */
export const SAMPLES: Readonly<Record<string, string>> = {
  ADT_A01,
  ORU_R01,
  SIU_S12,
  MDM_T02,
};
