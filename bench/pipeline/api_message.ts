/**
 * The JSON the HTTP benchmarks post to `POST /endpoint`: a Redox-style PatientAdmin message.
 * @module
 */

/**
 * A data-model message of a realistic size (~1.5 KB), naming `destinations` in its `Meta` (none:
 * routed by the source's subscriptions alone).
 */
export function apiMessage(destinations: { ID: string; Name?: string }[] = []): string {
  return JSON.stringify({
    Meta: {
      DataModel: "PatientAdmin",
      EventType: "NewPatient",
      EventDateTime: "2026-01-15T08:30:00.000Z",
      Test: true,
      Source: { ID: "7ce6f387-c33c-417d-8682-81e83628cbd9", Name: "Bench Source" },
      ...(destinations.length > 0 ? { Destinations: destinations } : {}),
    },
    Patient: {
      Identifiers: [{ ID: "0000000001", IDType: "MR" }, { ID: "e167267c", IDType: "EHRID" }],
      Demographics: {
        FirstName: "Timothy",
        MiddleName: "Paul",
        LastName: "Bixby",
        DOB: "2008-01-06",
        SSN: "101-01-0001",
        Sex: "Male",
        Race: "White",
        IsHispanic: null,
        MaritalStatus: "Married",
        IsDeceased: null,
        DeathDateTime: null,
        PhoneNumber: { Home: "+18088675301", Office: null, Mobile: null },
        EmailAddresses: [],
        Language: "en",
        Citizenship: [],
        Address: {
          StreetAddress: "4762 Hickory Street",
          City: "Monroe",
          State: "WI",
          ZIP: "53566",
          County: "Green",
          Country: "US",
        },
      },
      Notes: [],
      Contacts: [{
        FirstName: "Barbara",
        LastName: "Bixby",
        Address: {
          StreetAddress: "4762 Hickory Street",
          City: "Monroe",
          State: "WI",
          ZIP: "53566",
          County: "Green",
          Country: "US",
        },
        PhoneNumber: { Home: "+18088675303", Office: "+17077543758", Mobile: "+19189368865" },
        RelationToPatient: "Mother",
        EmailAddresses: ["barb.bixby@test.net"],
        Roles: ["Emergency Contact"],
      }],
    },
  });
}
