/**
 * X12 fixtures: one transaction set body per implementation guide, written from the 005010
 * guides' published examples (loop order, qualifiers and segment contents as the guides show
 * them), and a helper that wraps bodies in ISA/GS/ST ... SE/GE/IEA with correct counts.
 *
 * @module
 */

/** A transaction set body (segments between ST and SE, terminators omitted). */
export interface SetBody {
  readonly setId: string;
  readonly implementation: string;
  readonly functionalId: string;
  readonly body: readonly string[];
}

/** 837P, 005010X222A1 example 1 (commercial health insurance, patient is not the subscriber). */
export const X837P_BODY: SetBody = {
  setId: "837",
  implementation: "005010X222A1",
  functionalId: "HC",
  body: [
    "BHT*0019*00*244579*20061015*1023*CH",
    "NM1*41*2*PREMIER BILLING SERVICE*****46*TGJ23",
    "PER*IC*JERRY*TE*3055552222*EX*231",
    "NM1*40*2*KEY INSURANCE COMPANY*****46*66783JJT",
    "HL*1**20*1",
    "PRV*BI*PXC*203BF0100Y",
    "NM1*85*2*BEN KILDARE SERVICE*****XX*9876543210",
    "N3*234 SEAWAY ST",
    "N4*MIAMI*FL*33111",
    "REF*EI*587654321",
    "NM1*87*2",
    "N3*2345 OCEAN BLVD",
    "N4*MIAMI*FL*33111",
    "HL*2*1*22*1",
    "SBR*P**2222-SJ******CI",
    "NM1*IL*1*SMITH*JANE****MI*JS00111223333",
    "DMG*D8*19430501*F",
    "NM1*PR*2*KEY INSURANCE COMPANY*****PI*999996666",
    "REF*G2*KA6663",
    "HL*3*2*23*0",
    "PAT*19",
    "NM1*QC*1*SMITH*TED",
    "N3*236 N MAIN ST",
    "N4*MIAMI*FL*33413",
    "DMG*D8*19730501*M",
    "CLM*26463774*100***11:B:1*Y*A*Y*I",
    "REF*D9*17312345600006351",
    "HI*ABK:0340*ABF:V7389",
    "NM1*82*1*KILDARE*BEN****XX*1234567893",
    "PRV*PE*PXC*204C00000X",
    "LX*1",
    "SV1*HC:99213*40*UN*1***1",
    "DTP*472*D8*20061003",
    "LX*2",
    "SV1*HC:87070*15*UN*1***1",
    "DTP*472*D8*20061003",
    "LX*3",
    "SV1*HC:99214*35*UN*1***2",
    "DTP*472*D8*20061010",
    "LX*4",
    "SV1*HC:86663*10*UN*1***2",
    "DTP*472*D8*20061010",
  ],
};

/** 837I, 005010X223A2 example (Medicare Part A outpatient claim, subscriber is the patient). */
export const X837I_BODY: SetBody = {
  setId: "837",
  implementation: "005010X223A2",
  functionalId: "HC",
  body: [
    "BHT*0019*00*3920394930203*20070816*1615*CH",
    "NM1*41*2*JONES HOSPITAL*****46*12345",
    "PER*IC*JANE DOE*TE*9005555555",
    "NM1*40*2*MEDICARE*****46*00435",
    "HL*1**20*1",
    "PRV*BI*PXC*203BA0200N",
    "NM1*85*2*JONES HOSPITAL*****XX*9876540809",
    "N3*225 MAIN STREET BARKLEY BUILDING",
    "N4*CENTERVILLE*PA*17111",
    "REF*EI*567891234",
    "PER*IC*CONNIE*TE*3055551234",
    "HL*2*1*22*0",
    "SBR*P*18*******MA",
    "NM1*IL*1*DOE*JOHN*T***MI*030005074A",
    "N3*125 CITY AVENUE",
    "N4*CENTERVILLE*PA*17111",
    "DMG*D8*19261111*M",
    "NM1*PR*2*MEDICARE B*****PI*00435",
    "CLM*756048Q*89.93***14:A:1*A*Y*Y",
    "DTP*434*RD8*19960911-19960911",
    "CL1*3**01",
    "HI*ABK:3669",
    "HI*BF:4019*BF:79431",
    "HI*BH:A1:D8:19261111*BH:A2:D8:19911101*BH:B1:D8:19261111*BH:B2:D8:19870101",
    "HI*BE:A2:::15.31",
    "HI*BG:09",
    "NM1*71*1*JONES*JOHN*J",
    "REF*1G*B99937",
    "LX*1",
    "SV2*0305*HC:85025*13.39*UN*1",
    "DTP*472*D8*19960911",
    "LX*2",
    "SV2*0730*HC:93005*76.54*UN*3",
    "DTP*472*D8*19960911",
  ],
};

/** 837D, 005010X224A2 example (dental claim, subscriber is the patient). */
export const X837D_BODY: SetBody = {
  setId: "837",
  implementation: "005010X224A2",
  functionalId: "HC",
  body: [
    "BHT*0019*00*0123*20061123*1023*CH",
    "NM1*41*2*ABC DENTAL SERVICE*****46*TGJ23",
    "PER*IC*JANE*TE*3055551234",
    "NM1*40*2*XYZ DENTAL PLAN*****46*12345",
    "HL*1**20*1",
    "NM1*85*2*ABC DENTAL*****XX*1234567893",
    "N3*1234 MAIN ST",
    "N4*MIAMI*FL*33111",
    "REF*EI*123456789",
    "HL*2*1*22*0",
    "SBR*P*18*A1234******CI",
    "NM1*IL*1*SMITH*JOHN****MI*SJD12345",
    "N3*15197 BROADWAY AVENUE",
    "N4*KANSAS CITY*MO*64108",
    "DMG*D8*19530124*M",
    "NM1*PR*2*XYZ DENTAL PLAN*****PI*12345",
    "CLM*26407789*79***11:B:1*Y*A*Y*I",
    "DTP*472*D8*20061101",
    "NM1*82*1*SMITH*JAMES****XX*1234567891",
    "PRV*PE*PXC*1223G0001X",
    "LX*1",
    "SV3*AD:D0120*40****1",
    "LX*2",
    "SV3*AD:D1110*39****1",
    "TOO*JP*3",
  ],
};

/** 270, 005010X279A1 example (subscriber's health benefit plan coverage inquiry). */
export const X270_BODY: SetBody = {
  setId: "270",
  implementation: "005010X279A1",
  functionalId: "HS",
  body: [
    "BHT*0022*13*10001234*20060501*1319",
    "HL*1**20*1",
    "NM1*PR*2*ABC COMPANY*****PI*842610001",
    "HL*2*1*21*1",
    "NM1*1P*2*BONE AND JOINT CLINIC*****SV*2000035",
    "HL*3*2*22*0",
    "TRN*1*93175-012547*9877281234",
    "NM1*IL*1*SMITH*ROBERT****MI*11122333301",
    "DMG*D8*19430519",
    "DTP*291*D8*20060501",
    "EQ*30",
  ],
};

/** 271, 005010X279A1 example (the answer to {@link X270_BODY}, with repeated EB03 codes). */
export const X271_BODY: SetBody = {
  setId: "271",
  implementation: "005010X279A1",
  functionalId: "HB",
  body: [
    "BHT*0022*11*10001234*20060501*1319",
    "HL*1**20*1",
    "NM1*PR*2*ABC COMPANY*****PI*842610001",
    "HL*2*1*21*1",
    "NM1*1P*2*BONE AND JOINT CLINIC*****SV*2000035",
    "HL*3*2*22*0",
    "TRN*2*93175-012547*9877281234",
    "NM1*IL*1*SMITH*ROBERT****MI*11122333301",
    "N3*15197 BROADWAY AVENUE*APT 215",
    "N4*KANSAS CITY*MO*64108",
    "DMG*D8*19430519*M",
    "DTP*346*D8*20060101",
    "EB*1**30**GOLD 123 PLAN",
    "EB*L",
    "LS*2120",
    "NM1*P3*1*JONES*MARCUS****SV*0202034",
    "LE*2120",
    "EB*1**1^33^35^47^86^88^98^AL^MH^UC",
    "EB*B**1^33^35^47^86^88^98^AL^MH^UC*HM*GOLD 123 PLAN*27*10*****Y",
    "EB*B**1^33^35^47^86^88^98^AL^MH^UC*HM*GOLD 123 PLAN*27*30*****N",
  ],
};

/** 276, 005010X212 example (claim status request for a hospital claim). */
export const X276_BODY: SetBody = {
  setId: "276",
  implementation: "005010X212",
  functionalId: "HR",
  body: [
    "BHT*0010*13*ABC276XXX*20050915*1425",
    "HL*1**20*1",
    "NM1*PR*2*ABC INSURANCE*****PI*12345",
    "HL*2*1*21*1",
    "NM1*41*2*XYZ SERVICE*****46*X67E",
    "HL*3*2*19*1",
    "NM1*1P*2*HOME HOSPITAL*****XX*1666666661",
    "HL*4*3*22*0",
    "DMG*D8*19301210*M",
    "NM1*IL*1*SMITH*FRED****MI*123456789A",
    "TRN*1*ABCXYZ1",
    "REF*BLT*111",
    "REF*EJ*SM123456",
    "AMT*T3*8513.88",
    "DTP*472*RD8*20050831-20050906",
  ],
};

/** 277, 005010X212 example (the answer to {@link X276_BODY}). */
export const X277_BODY: SetBody = {
  setId: "277",
  implementation: "005010X212",
  functionalId: "HN",
  body: [
    "BHT*0010*08*ABC276XXX*20050916*1425*DG",
    "HL*1**20*1",
    "NM1*PR*2*ABC INSURANCE*****PI*12345",
    "HL*2*1*21*1",
    "NM1*41*2*XYZ SERVICE*****46*X67E",
    "HL*3*2*19*1",
    "NM1*1P*2*HOME HOSPITAL*****XX*1666666661",
    "HL*4*3*22*0",
    "NM1*IL*1*SMITH*FRED****MI*123456789A",
    "TRN*2*ABCXYZ1",
    "STC*F1:65*20050916**8513.88*8513.88*20050916**20050916*0000000123",
    "REF*1K*0000000123",
    "REF*BLT*111",
    "REF*EJ*SM123456",
    "DTP*472*RD8*20050831-20050906",
  ],
};

/** 278, 005010X217 example (request for review: physical therapy visits). */
export const X278_BODY: SetBody = {
  setId: "278",
  implementation: "005010X217",
  functionalId: "HI",
  body: [
    "BHT*0007*13*199812-0001*20050501*1319",
    "HL*1**20*1",
    "NM1*X3*2*ABC HEALTH PLAN*****PI*12345",
    "HL*2*1*21*1",
    "NM1*1P*1*WATSON*SAM****XX*1234567890",
    "N3*123 MAIN ST",
    "N4*SMALLTOWN*NY*14000",
    "PER*IC**TE*6555555555",
    "HL*3*2*22*1",
    "NM1*IL*1*SMITH*JOE****MI*12345678901",
    "DMG*D8*19430917*M",
    "HL*4*3*EV*1",
    "UM*HS*I*1",
    "DTP*AAH*RD8*20050504-20050525",
    "HI*ABK:7241",
    "HL*5*4*SS*0",
    "TRN*1*1111111*9012345678",
    "UM*HS*I*2",
    "SV1*HC:97110*0*UN*12",
  ],
};

/** 834, 005010X220A1 example (an employee and a dependent added to a health plan). */
export const X834_BODY: SetBody = {
  setId: "834",
  implementation: "005010X220A1",
  functionalId: "BE",
  body: [
    "BGN*00*12456*20050615*1200****2",
    "REF*38*57252",
    "DTP*007*D8*20050701",
    "N1*P5*PAYER 1*FI*999888777",
    "N1*IN*KCMHSAS*FI*654456654",
    "INS*Y*18*021*20*A***FT",
    "REF*0F*152239999",
    "REF*1L*Blue",
    "DTP*336*D8*20050601",
    "NM1*IL*1*BLUTH*LUCILLE****34*152239999",
    "PER*IP**HP*2138051111",
    "N3*36 FOREST ROAD",
    "N4*SOMETOWN*NY*17800",
    "DMG*D8*19720121*F*M",
    "HD*021**HLT",
    "DTP*348*D8*20050701",
    "LX*1",
    "NM1*P3*1*JONES*MARCUS****SV*0202034*25",
    "INS*N*19*021*20*A",
    "REF*0F*152239999",
    "DTP*357*D8*20050701",
    "NM1*IL*1*BLUTH*BUSTER",
    "DMG*D8*19910315*M",
    "HD*021**HLT",
    "DTP*348*D8*20050701",
  ],
};

/** 835, 005010X221A1 example (institutional claim payment, then a professional one). */
export const X835_BODY: SetBody = {
  setId: "835",
  implementation: "005010X221A1",
  functionalId: "HP",
  body: [
    "BPR*C*150000*C*ACH*CTX*01*999999992*DA*123456*1512345678**01*999988880*DA*98765*20020913",
    "TRN*1*12345*1512345678",
    "DTM*405*20020916",
    "N1*PR*INSURANCE COMPANY OF TIMBUCKTU",
    "N3*1 MAIN STREET",
    "N4*TIMBUCKTU*AK*89111",
    "REF*2U*999",
    "N1*PE*REGIONAL HOPE HOSPITAL*XX*6543210903",
    "LX*110212",
    "TS3*6543210903*11*20021231*1*211366.97********138018.4**73348.57",
    "TS2*2178.45*1919.71**56.82*197.69*4.23",
    "CLP*666123*1*211366.97*138018.4**MA*1999999444444*11*1",
    "CAS*CO*45*73348.57",
    "NM1*QC*1*JONES*SAM*O***HN*666666666A",
    "MIA*0***138018.4",
    "DTM*232*20020816",
    "DTM*233*20020824",
    "QTY*CA*8",
    "LX*2",
    "CLP*7722337*1*226*132**12*119932404007801",
    "NM1*QC*1*DOE*SALLY****MI*123456789",
    "DTM*232*20020816",
    "SVC*HC:99211*80*76",
    "DTM*472*20020816",
    "CAS*CO*45*4",
    "SVC*HC:93010*76*50",
    "CAS*CO*45*26",
    "PLB*6543210903*20021231*CV:CP*-1.27",
  ],
};

/** Every fixture by name. */
export const ALL_BODIES: Readonly<Record<string, SetBody>> = {
  "837P": X837P_BODY,
  "837I": X837I_BODY,
  "837D": X837D_BODY,
  "270": X270_BODY,
  "271": X271_BODY,
  "276": X276_BODY,
  "277": X277_BODY,
  "278": X278_BODY,
  "834": X834_BODY,
  "835": X835_BODY,
};

/** Options of {@link wrap}. */
export interface WrapOptions {
  /** ISA13 (default 1). */
  readonly control?: number;
  /** ISA15 (default `T`). */
  readonly usage?: string;
  /** ISA06 sender ID (default `SUBMITTERID`). */
  readonly sender?: string;
  /** ISA08 receiver ID (default `RECEIVERID`). */
  readonly receiver?: string;
  /** What follows each terminator (default '': none; `\n` or `\r\n` for line breaks). */
  readonly lineBreak?: string;
  /** Separators: element, repetition, component, terminator (default `* ^ : ~`). */
  readonly separators?: readonly [string, string, string, string];
  /** ISA14 (default `1`). */
  readonly ackRequested?: boolean;
}

/**
 * Wraps transaction set bodies in an interchange with one functional group per distinct
 * functional ID and version, counts and control numbers correct.
 */
export function wrap(sets: readonly SetBody[], options: WrapOptions = {}): string {
  const [el, rep, comp, term] = options.separators ?? ["*", "^", ":", "~"];
  const br = options.lineBreak ?? "";
  const ctrl = String(options.control ?? 1).padStart(9, "0");
  const fix = (s: string) =>
    s.replaceAll("*", "\u0001").replaceAll("^", "\u0002").replaceAll(":", "\u0003")
      .replaceAll("\u0001", el).replaceAll("\u0002", rep).replaceAll("\u0003", comp);
  const out: string[] = [
    [
      "ISA",
      "00",
      "          ",
      "00",
      "          ",
      "ZZ",
      (options.sender ?? "SUBMITTERID").padEnd(15),
      "ZZ",
      (options.receiver ?? "RECEIVERID").padEnd(15),
      "061015",
      "1023",
      rep,
      "00501",
      ctrl,
      options.ackRequested === false ? "0" : "1",
      options.usage ?? "T",
      comp,
    ].join(el),
  ];
  const groups = new Map<string, SetBody[]>();
  for (const s of sets) {
    const key = `${s.functionalId}|${s.implementation}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  let gs = 1;
  let st = 1;
  for (const [key, list] of groups) {
    const [fid, version] = key.split("|") as [string, string];
    const gctrl = String(gs++);
    out.push(
      ["GS", fid, "SENDERGS", "RECEIVERGS", "20061015", "1023", gctrl, "X", version].join(el),
    );
    for (const s of list) {
      const sctrl = String(st++).padStart(4, "0");
      out.push(["ST", s.setId, sctrl, s.implementation].join(el));
      for (const b of s.body) out.push(fix(b));
      out.push(["SE", String(s.body.length + 2), sctrl].join(el));
    }
    out.push(["GE", String(list.length), gctrl].join(el));
  }
  out.push(["IEA", String(groups.size), ctrl].join(el));
  return out.map((s) => s + term + br).join("");
}
