/**
 * Loop structures of the HIPAA 005010 implementation guides: 270/271 (X279A1), 276/277 (X212),
 * 277CA (X214), 278 (X217), 834 (X220A1), 835 (X221A1), 837P (X222A1), 837I (X223A2) and
 * 837D (X224A2), as published in the guides' loop tables (loop IDs, trigger segments with their
 * qualifiers, and the segments each loop holds, in order).
 *
 * @module
 */

import { hl, loop, type LoopDef, transaction, type TransactionDef } from "./schema.ts";

// ---- 837 (shared pieces) -------------------------------------------------------------------

const submitter = loop("!1000A", "Submitter Name", "NM1:1=41", "!PER");
const receiver = loop("!1000B", "Receiver Name", "NM1:1=40");
const billingProvider = (extra: readonly LoopDef[] = []) => [
  loop("!2010AA", "Billing Provider Name", "NM1:1=85", "!N3 !N4 REF PER"),
  loop("2010AB", "Pay-to Address Name", "NM1:1=87", "N3 N4"),
  loop("2010AC", "Pay-to Plan Name", "NM1:1=PE", "N3 N4 REF"),
  ...extra,
];
const subscriberNames = [
  loop("!2010BA", "Subscriber Name", "NM1:1=IL", "N3 N4 DMG REF PER"),
  loop("!2010BB", "Payer Name", "NM1:1=PR", "N3 N4 REF"),
];
const patientName = loop("!2010CA", "Patient Name", "NM1:1=QC", "!N3 !N4 !DMG REF");
const otherSubscriber = (others: readonly LoopDef[]) =>
  loop("2320", "Other Subscriber Information", "SBR", "CAS AMT OI MIA MOA", [
    loop("!2330A", "Other Subscriber Name", "NM1:1=IL", "N3 N4 REF"),
    loop("!2330B", "Other Payer Name", "NM1:1=PR", "N3 N4 DTP REF"),
    ...others,
  ]);
const lineAdjudication = loop("2430", "Line Adjudication Information", "SVD", "CAS DTP AMT");

/** Builds an 837's HL loops around its claim loop. */
function hl837(claim: LoopDef): LoopDef[] {
  return [
    hl("!2000A", "Billing Provider Hierarchical Level", "20", "PRV CUR", billingProvider()),
    hl("!2000B", "Subscriber Hierarchical Level", "22", "!SBR PAT", [...subscriberNames, claim]),
    hl("2000C", "Patient Hierarchical Level", "23", "!PAT", [patientName, claim]),
  ];
}

const claim837P = loop(
  "2300",
  "Claim Information",
  "CLM",
  "DTP PWK CN1 AMT REF K3 NTE CR1 CR2 CRC HI HCP",
  [
    loop("2310A", "Referring Provider Name", "NM1:1=DN,P3", "REF"),
    loop("2310B", "Rendering Provider Name", "NM1:1=82", "PRV REF"),
    loop("2310C", "Service Facility Location Name", "NM1:1=77", "N3 N4 REF PER"),
    loop("2310D", "Supervising Provider Name", "NM1:1=DQ", "REF"),
    loop("2310E", "Ambulance Pick-up Location", "NM1:1=PW", "N3 N4"),
    loop("2310F", "Ambulance Drop-off Location", "NM1:1=45", "N3 N4"),
    otherSubscriber([
      loop("2330C", "Other Payer Referring Provider", "NM1:1=DN,P3", "REF"),
      loop("2330D", "Other Payer Rendering Provider", "NM1:1=82", "REF"),
      loop("2330E", "Other Payer Service Facility Location", "NM1:1=77", "REF"),
      loop("2330F", "Other Payer Supervising Provider", "NM1:1=DQ", "REF"),
      loop("2330G", "Other Payer Billing Provider", "NM1:1=85", "REF"),
    ]),
    loop(
      "!2400",
      "Service Line Number",
      "LX",
      "!SV1 SV5 PWK CR1 CR3 CRC DTP QTY MEA CN1 REF AMT K3 NTE PS1 HCP",
      [
        loop("2410", "Drug Identification", "LIN", "CTP REF"),
        loop("2420A", "Rendering Provider Name", "NM1:1=82", "PRV REF"),
        loop("2420B", "Purchased Service Provider Name", "NM1:1=QB", "REF"),
        loop("2420C", "Service Facility Location Name", "NM1:1=77", "N3 N4 REF"),
        loop("2420D", "Supervising Provider Name", "NM1:1=DQ", "REF"),
        loop("2420E", "Ordering Provider Name", "NM1:1=DK", "N3 N4 REF PER"),
        loop("2420F", "Referring Provider Name", "NM1:1=DN,P3", "REF"),
        loop("2420G", "Ambulance Pick-up Location", "NM1:1=PW", "N3 N4"),
        loop("2420H", "Ambulance Drop-off Location", "NM1:1=45", "N3 N4"),
        lineAdjudication,
        loop("2440", "Form Identification Code", "LQ", "FRM"),
      ],
    ),
  ],
);

const claim837I = loop(
  "2300",
  "Claim Information",
  "CLM",
  "DTP CL1 PWK CN1 AMT REF K3 NTE CRC !HI HCP",
  [
    loop("2310A", "Attending Provider Name", "NM1:1=71", "PRV REF"),
    loop("2310B", "Operating Physician Name", "NM1:1=72", "REF"),
    loop("2310C", "Other Operating Physician Name", "NM1:1=ZZ", "REF"),
    loop("2310D", "Rendering Provider Name", "NM1:1=82", "REF"),
    loop("2310E", "Service Facility Location Name", "NM1:1=77", "N3 N4 REF"),
    loop("2310F", "Referring Provider Name", "NM1:1=DN", "REF"),
    otherSubscriber([
      loop("2330C", "Other Payer Attending Provider", "NM1:1=71", "REF"),
      loop("2330D", "Other Payer Operating Physician", "NM1:1=72", "REF"),
      loop("2330E", "Other Payer Other Operating Physician", "NM1:1=ZZ", "REF"),
      loop("2330F", "Other Payer Service Facility Location", "NM1:1=77", "REF"),
      loop("2330G", "Other Payer Rendering Provider Name", "NM1:1=82", "REF"),
      loop("2330H", "Other Payer Referring Provider", "NM1:1=DN", "REF"),
      loop("2330I", "Other Payer Billing Provider", "NM1:1=85", "REF"),
    ]),
    loop("!2400", "Service Line Number", "LX", "!SV2 PWK DTP REF AMT NTE HCP", [
      loop("2410", "Drug Identification", "LIN", "CTP REF"),
      loop("2420A", "Operating Physician Name", "NM1:1=72", "REF"),
      loop("2420B", "Other Operating Physician Name", "NM1:1=ZZ", "REF"),
      loop("2420C", "Rendering Provider Name", "NM1:1=82", "REF"),
      loop("2420D", "Referring Provider Name", "NM1:1=DN", "REF"),
      lineAdjudication,
    ]),
  ],
);

const claim837D = loop(
  "2300",
  "Claim Information",
  "CLM",
  "DTP DN1 DN2 PWK CN1 AMT REF NTE HI HCP",
  [
    loop("2310A", "Referring Provider Name", "NM1:1=DN,P3", "PRV REF"),
    loop("2310B", "Rendering Provider Name", "NM1:1=82", "PRV REF"),
    loop("2310C", "Service Facility Location Name", "NM1:1=77", "N3 N4 REF"),
    loop("2310D", "Assistant Surgeon Name", "NM1:1=DD", "PRV REF"),
    loop("2310E", "Supervising Provider Name", "NM1:1=DQ", "REF"),
    otherSubscriber([
      loop("2330C", "Other Payer Referring Provider", "NM1:1=DN,P3", "REF"),
      loop("2330D", "Other Payer Rendering Provider", "NM1:1=82", "REF"),
      loop("2330E", "Other Payer Supervising Provider", "NM1:1=DQ", "REF"),
      loop("2330F", "Other Payer Billing Provider", "NM1:1=85", "REF"),
      loop("2330G", "Other Payer Assistant Surgeon", "NM1:1=DD", "REF"),
      loop("2330H", "Other Payer Service Facility Location", "NM1:1=77", "REF"),
    ]),
    loop("!2400", "Service Line Number", "LX", "!SV3 TOO DTP QTY REF AMT NTE HCP", [
      loop("2420A", "Rendering Provider Name", "NM1:1=82", "PRV REF"),
      loop("2420B", "Assistant Surgeon Name", "NM1:1=DD", "PRV REF"),
      loop("2420C", "Supervising Provider Name", "NM1:1=DQ", "REF"),
      loop("2420D", "Service Facility Location", "NM1:1=77", "REF"),
      lineAdjudication,
    ]),
  ],
);

const header837 = "!BHT";

/** 837 Professional (005010X222A1). */
export const X837P: TransactionDef = transaction(
  "837P",
  "837",
  ["005010X222"],
  "Health Care Claim: Professional",
  header837,
  [submitter, receiver, ...hl837(claim837P)],
);

/** 837 Institutional (005010X223A2). */
export const X837I: TransactionDef = transaction(
  "837I",
  "837",
  ["005010X223"],
  "Health Care Claim: Institutional",
  header837,
  [submitter, receiver, ...hl837(claim837I)],
);

/** 837 Dental (005010X224A2). */
export const X837D: TransactionDef = transaction(
  "837D",
  "837",
  ["005010X224"],
  "Health Care Claim: Dental",
  header837,
  [submitter, receiver, ...hl837(claim837D)],
);

// ---- 270 / 271 -------------------------------------------------------------------------------

/** 270 Eligibility, Coverage or Benefit Inquiry (005010X279A1). */
export const X270: TransactionDef = transaction(
  "270",
  "270",
  ["005010X279"],
  "Eligibility, Coverage or Benefit Inquiry",
  "!BHT",
  [
    hl("!2000A", "Information Source Level", "20", "", [
      loop("!2100A", "Information Source Name", "NM1"),
    ]),
    hl("!2000B", "Information Receiver Level", "21", "", [
      loop("!2100B", "Information Receiver Name", "NM1", "REF N3 N4 PRV"),
    ]),
    hl("!2000C", "Subscriber Level", "22", "TRN", [
      loop("!2100C", "Subscriber Name", "NM1", "REF N3 N4 PRV DMG INS HI DTP", [
        loop("2110C", "Subscriber Eligibility or Benefit Inquiry", "EQ", "AMT III REF DTP"),
      ]),
    ]),
    hl("2000D", "Dependent Level", "23", "TRN", [
      loop("!2100D", "Dependent Name", "NM1", "REF N3 N4 PRV DMG INS HI DTP", [
        loop("2110D", "Dependent Eligibility or Benefit Inquiry", "EQ", "III REF DTP"),
      ]),
    ]),
  ],
);

const benefit271 = (suffix: "C" | "D", who: string) =>
  loop(
    `2110${suffix}`,
    `${who} Eligibility or Benefit Information`,
    "EB",
    "HSD REF DTP AAA MSG LS LE",
    [
      loop(`2115${suffix}`, `${who} Eligibility or Benefit Additional Information`, "III"),
      loop(`2120${suffix}`, `${who} Benefit Related Entity Name`, "NM1", "N3 N4 PER PRV"),
    ],
  );

/** 271 Eligibility, Coverage or Benefit Information (005010X279A1). */
export const X271: TransactionDef = transaction(
  "271",
  "271",
  ["005010X279"],
  "Eligibility, Coverage or Benefit Information",
  "!BHT",
  [
    hl("!2000A", "Information Source Level", "20", "AAA", [
      loop("!2100A", "Information Source Name", "NM1", "PER AAA"),
    ]),
    hl("2000B", "Information Receiver Level", "21", "", [
      loop("!2100B", "Information Receiver Name", "NM1", "REF AAA PRV"),
    ]),
    hl("2000C", "Subscriber Level", "22", "TRN", [
      loop("!2100C", "Subscriber Name", "NM1", "REF N3 N4 AAA PRV DMG INS HI DTP MPI", [
        benefit271("C", "Subscriber"),
      ]),
    ]),
    hl("2000D", "Dependent Level", "23", "TRN", [
      loop("!2100D", "Dependent Name", "NM1", "REF N3 N4 AAA PRV DMG INS HI DTP MPI", [
        benefit271("D", "Dependent"),
      ]),
    ]),
  ],
);

// ---- 276 / 277 -------------------------------------------------------------------------------

const statusLevels = (
  claim: (s: "D" | "E") => LoopDef,
  sourceExtra = "",
): LoopDef[] => [
  hl("!2000A", "Information Source Level", "20", "", [
    loop("!2100A", "Payer Name", "NM1:1=PR", sourceExtra),
  ]),
  hl("!2000B", "Information Receiver Level", "21", "", [
    loop("!2100B", "Information Receiver Name", "NM1:1=41"),
  ]),
  hl("!2000C", "Service Provider Level", "19", "", [
    loop("!2100C", "Provider Name", "NM1:1=1P"),
  ]),
  hl("!2000D", "Subscriber Level", "22", "DMG", [
    loop("!2100D", "Subscriber Name", "NM1:1=IL"),
    claim("D"),
  ]),
  hl("2000E", "Dependent Level", "23", "DMG", [
    loop("!2100E", "Dependent Name", "NM1:1=QC"),
    claim("E"),
  ]),
];

/** 276 Health Care Claim Status Request (005010X212). */
export const X276: TransactionDef = transaction(
  "276",
  "276",
  ["005010X212"],
  "Health Care Claim Status Request",
  "!BHT",
  statusLevels((s) =>
    loop(`!2200${s}`, "Claim Status Tracking Number", "TRN", "REF AMT DTP", [
      loop(`2210${s}`, "Service Line Information", "SVC", "REF DTP"),
    ])
  ),
);

/** 277 Health Care Claim Status Response (005010X212). */
export const X277: TransactionDef = transaction(
  "277",
  "277",
  ["005010X212"],
  "Health Care Claim Status Response",
  "!BHT",
  statusLevels((s) =>
    loop(`!2200${s}`, "Claim Status Tracking Number", "TRN", "STC REF DTP", [
      loop(`2220${s}`, "Service Line Information", "SVC", "STC REF DTP"),
    ]), "PER"),
);

/** 277CA Health Care Claim Acknowledgment (005010X214). */
export const X277CA: TransactionDef = transaction(
  "277CA",
  "277",
  ["005010X214"],
  "Health Care Claim Acknowledgment",
  "!BHT",
  [
    hl("!2000A", "Information Source Level", "20", "", [
      loop("!2100A", "Information Source Name", "NM1:1=AY,PR"),
      loop("!2200A", "Transmission Receipt Control Identifier", "TRN", "DTP"),
    ]),
    hl("!2000B", "Information Receiver Level", "21", "", [
      loop("!2100B", "Information Receiver Name", "NM1:1=41"),
      loop("!2200B", "Information Receiver Application Trace Identifier", "TRN", "STC QTY AMT"),
    ]),
    hl("2000C", "Billing Provider of Service Level", "19", "", [
      loop("!2100C", "Billing Provider Name", "NM1:1=85"),
      loop("2200C", "Provider of Service Information Trace Identifier", "TRN", "STC REF QTY AMT"),
    ]),
    hl("2000D", "Patient Level", "PT", "", [
      loop("!2100D", "Patient Name", "NM1:1=QC"),
      loop("!2200D", "Claim Status Tracking Number", "TRN", "STC REF DTP", [
        loop("2220D", "Service Line Information", "SVC", "STC REF DTP"),
      ]),
    ]),
  ],
);

// ---- 278 -------------------------------------------------------------------------------------

/** 278 Health Care Services Review (005010X217). */
export const X278: TransactionDef = transaction(
  "278",
  "278",
  ["005010X217"],
  "Health Care Services Review",
  "!BHT",
  [
    hl("!2000A", "Utilization Management Organization (UMO) Level", "20", "AAA", [
      loop("!2010A", "Utilization Management Organization (UMO) Name", "NM1", "PER AAA"),
    ]),
    hl("!2000B", "Requester Level", "21", "", [
      loop("!2010B", "Requester Name", "NM1", "REF N3 N4 PER AAA PRV"),
    ]),
    hl("!2000C", "Subscriber Level", "22", "TRN", [
      loop("!2010C", "Subscriber Name", "NM1:1=IL", "REF N3 N4 AAA DMG INS"),
    ]),
    hl("2000D", "Dependent Level", "23", "TRN", [
      loop("!2010D", "Dependent Name", "NM1:1=QC", "REF N3 N4 AAA DMG INS"),
    ]),
    hl(
      "!2000E",
      "Patient Event Level",
      "EV",
      "TRN AAA !UM HCR REF DTP HI HSD CRC CL1 CR1 CR2 CR5 CR6 PWK MSG",
      [loop("2010EA", "Patient Event Provider Name", "NM1", "REF N3 N4 PER AAA PRV")],
    ),
    hl(
      "2000F",
      "Service Level",
      "SS",
      "TRN AAA UM HCR PRV REF DTP HI HSD CRC SV1 SV2 SV3 TOO PWK MSG",
      [loop("2010F", "Service Provider Name", "NM1", "REF N3 N4 PER AAA PRV")],
    ),
  ],
);

// ---- 834 -------------------------------------------------------------------------------------

/** 834 Benefit Enrollment and Maintenance (005010X220A1). */
export const X834: TransactionDef = transaction(
  "834",
  "834",
  ["005010X220"],
  "Benefit Enrollment and Maintenance",
  "!BGN REF DTP QTY",
  [
    loop("!1000A", "Sponsor Name", "N1:1=P5"),
    loop("!1000B", "Payer", "N1:1=IN"),
    loop("1000C", "TPA/Broker Name", "N1:1=BO,TV", "", [
      loop("1100C", "TPA/Broker Account Information", "ACT"),
    ]),
    loop("!2000", "Member Level Detail", "INS", "!REF DTP", [
      loop(
        "!2100A",
        "Member Name",
        "NM1:1=IL,74",
        "PER N3 N4 DMG EC ICM AMT HLH LUI",
      ),
      loop("2100B", "Incorrect Member Name", "NM1:1=70", "DMG"),
      loop("2100C", "Member Mailing Address", "NM1:1=31", "N3 N4"),
      loop("2100D", "Member Employer", "NM1:1=36", "PER N3 N4"),
      loop("2100E", "Member School", "NM1:1=M8", "PER N3 N4"),
      loop("2100F", "Custodial Parent", "NM1:1=S3", "PER N3 N4"),
      loop(
        "2100G",
        "Responsible Person",
        "NM1:1=6Y,9K,E1,EI,EXS,GB,GD,J6,LR,QD,S1,TZ,X4",
        "PER N3 N4",
      ),
      loop("2100H", "Drop Off Location", "NM1:1=45", "N3 N4"),
      loop("2200", "Disability Information", "DSB", "DTP"),
      loop("2300", "Health Coverage", "HD", "DTP AMT REF IDC", [
        loop("2310", "Provider Information", "LX", "NM1 N3 N4 PER PRV DTP"),
        loop("2320", "Coordination of Benefits", "COB", "REF DTP", [
          loop("2330", "Coordination of Benefits Related Entity", "NM1:1=36,GW,IN", "N3 N4 PER"),
        ]),
      ]),
      loop("2700", "Additional Reporting Categories", "LS", "LE", [
        loop("2710", "Member Reporting Categories", "LX", "", [
          loop("2750", "Reporting Category", "N1:1=75", "REF DTP"),
        ]),
      ]),
    ]),
  ],
);

// ---- 835 -------------------------------------------------------------------------------------

/** 835 Health Care Claim Payment/Advice (005010X221A1). */
export const X835: TransactionDef = transaction(
  "835",
  "835",
  ["005010X221"],
  "Health Care Claim Payment/Advice",
  "!BPR !TRN CUR REF DTM PLB",
  [
    loop("!1000A", "Payer Identification", "N1:1=PR", "N3 N4 REF PER"),
    loop("!1000B", "Payee Identification", "N1:1=PE", "N3 N4 REF RDM"),
    loop("2000", "Header Number", "LX", "TS3 TS2", [
      loop("!2100", "Claim Payment Information", "CLP", "CAS NM1 MIA MOA REF DTM PER AMT QTY", [
        loop("2110", "Service Payment Information", "SVC", "DTM CAS REF AMT QTY LQ"),
      ]),
    ]),
  ],
);

// ---- acknowledgments -------------------------------------------------------------------------

/** 999 Implementation Acknowledgment (005010X231A1). */
export const X999: TransactionDef = transaction(
  "999",
  "999",
  ["005010X231"],
  "Implementation Acknowledgment",
  "!AK1 !AK9",
  [
    loop("2000", "Transaction Set Response Header", "AK2", "!IK5", [
      loop("2100", "Error Identification", "IK3", "CTX", [
        loop("2110", "Implementation Data Element Note", "IK4", "CTX"),
      ]),
    ]),
  ],
);

/** Every transaction set this codec knows the loops of. */
export const TRANSACTION_DEFS: readonly TransactionDef[] = [
  X270,
  X271,
  X276,
  X277,
  X277CA,
  X278,
  X834,
  X835,
  X837P,
  X837I,
  X837D,
  X999,
];

/**
 * The definition for a transaction set: by ST01 and the implementation reference (ST03, else
 * GS08). An 837 without a known reference is read as professional.
 */
export function findTransactionDef(
  setId: string,
  implementation: string,
): TransactionDef | undefined {
  const same = TRANSACTION_DEFS.filter((d) => d.setId === setId);
  return same.find((d) => d.implementations.some((p) => implementation.startsWith(p))) ?? same[0];
}
