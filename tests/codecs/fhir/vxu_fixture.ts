/**
 * A typical VXU^V04, written after the CDC HL7 v2.5.1 immunization IG's examples (shared by the
 * codec's tests and the engine's end-to-end FHIR test).
 */

/** Two order groups: a Hib dose given (with route, site and a VFC eligibility OBX) and a refusal. */
export const VXU_V04 = [
  "MSH|^~\\&|MYEHR2.5|RI88140101|KIDSNET_IFL|RIHEALTH|20130531||VXU^V04^VXU_V04|" +
  "20130531RI881401010105|P|2.5.1|||NE|AL||||||RI543763",
  "PID|1||432155^^^dcs^MR||Patient^Johnny^New^^^^L|Smith^Sally|20130414|M||" +
  "2106-3^White^CDCREC|123 Any St^^Somewhere^WI^54000^^M",
  "NK1|1|Patient^Sally|MTH^mother^HL70063|123 Any St^^Somewhere^WI^54000^^M",
  "ORC|RE||197023^CMC|||||||^Clerk^Myron||^Pediatric^MARY^^^^^^^L^^^^^^^^^^^MD",
  "RXA|0|1|20130531|20130531|48^HIB PRP-T^CVX|0.5|mL^milliliter^UCUM||" +
  "00^New immunization record^NIP001|^Sticker^Nurse|^^^RI2050||||33k2a|20131210|" +
  "PMC^sanofi^MVX|||CP|A",
  "RXR|C28161^Intramuscular^NCIT|RT^Right Thigh^HL70163",
  "OBX|1|CE|64994-7^vaccine fund pgm elig cat^LN|1|V02^VFC eligible Medicaid^HL70064||||||F|||" +
  "20130531|||VXC40^per imm^CDCPHINVS",
  "ORC|RE||197027^CMC",
  "RXA|0|1|20120814||998^No vaccine administered^CVX|999||||||||||||" +
  "00^Parental refusal^NIP002||RE",
].join("\r");
