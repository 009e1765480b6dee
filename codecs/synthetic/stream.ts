/**
 * Coherent event streams over a synthetic registry: stories of care (a stay in hospital from
 * pre-admission to discharge with orders, results, a transfer and notes; an outpatient visit; an
 * appointment booked, rescheduled, modified, canceled or missed; a duplicate record merged; a
 * demographics update) interleaved as they would arrive from a hospital, each event as
 * data-model JSON and as HL7 v2. Deterministic: the same options give the same messages.
 *
 * ```ts
 * const sim = new Simulator({ seed: 7 });
 * const m = sim.next();          // the next event of some story
 * m.label;                       // "ADT^A01"
 * m.hl7;                         // "MSH|^~\\&|SIMEHR|SIMHOSP|…"
 * const a01s = sim.events("ADT^A01", 100); // 100 arrivals, each of its own patient
 * ```
 *
 * @module
 */

import { type DataModelMessage, EVENTS, type EventSpec, jsonToHl7 } from "../datamodel/mod.ts";
import {
  bedIn,
  buildMessage,
  type Episode,
  FACILITY,
  newEpisode,
  plusMinutes,
  unitOf,
} from "./episode.ts";
import { createRegistry, type Registry, type SyntheticPatient } from "./registry.ts";
import { Rng } from "./rng.ts";
import { DIAGNOSES, STREETS } from "./vocab.ts";

/** The sending application written in MSH-3. */
export const SENDING_APPLICATION = "SIMEHR";

/** One generated event. */
export interface SyntheticMessage {
  /** 1, 2, 3… in the order generated. */
  readonly seq: number;
  readonly spec: EventSpec;
  /** `ADT^A01`, `ORM^O01`… (MSH-9.1^MSH-9.2). */
  readonly label: string;
  readonly patient: SyntheticPatient;
  /** MSH-10. */
  readonly controlId: string;
  readonly json: DataModelMessage;
  /** The HL7 v2 text (segments separated by CR). */
  readonly hl7: string;
}

/** Options of {@link Simulator}. */
export interface SimulatorOptions {
  /** The stream's seed (default `"sandbox"`). */
  readonly seed?: string | number;
  /** The registry to draw patients from (default: one of 200 patients from the same seed). */
  readonly registry?: Registry;
  /** The first event's time (default 2025-01-06T08:00:00Z). */
  readonly start?: Date;
  /** MSH-10 is this prefix and the sequence number (default `SIM`); at most 12 characters. */
  readonly controlIdPrefix?: string;
  /** Stories told at once (default 6). */
  readonly concurrentStories?: number;
  /** MSH-5 (default `ENGINE`). */
  readonly receivingApplication?: string;
}

/** `ADT^A01` for a spec. */
export function labelOf(spec: EventSpec): string {
  return `${spec.messageType}^${spec.trigger}`;
}

/**
 * The events a label names: `ADT^A01` (or `ADT^A01^ADT_A01`), a data model and event
 * (`PatientAdmin.Arrival`, `PatientAdmin.Cancel.Transfer`), a whole data model (`Results`), or
 * `all`. `ORM^O01` names the three order events and `MDM^T02` both Notes and Media. Empty when
 * nothing matches.
 */
export function resolveEvents(label: string): EventSpec[] {
  const l = label.trim();
  if (l.toLowerCase() === "all" || l === "*") return [...EVENTS];
  if (l.includes("^")) {
    const [type, trigger] = l.toUpperCase().split("^");
    return EVENTS.filter((e) => e.messageType === type && e.trigger === trigger);
  }
  const [model, event, canceled] = l.split(".");
  return EVENTS.filter((e) =>
    e.dataModel.toLowerCase() === (model ?? "").toLowerCase() &&
    (event === undefined || e.eventType.toLowerCase() === event.toLowerCase()) &&
    (canceled === undefined || (e.canceledEvent ?? "").toLowerCase() === canceled.toLowerCase())
  );
}

/** The spec of a model and event (and canceled event), which must exist. */
function the(model: string, event: string, canceled?: string): EventSpec {
  const found = EVENTS.find((e) =>
    e.dataModel === model && e.eventType === event && e.canceledEvent === canceled
  );
  if (!found) throw new Error(`no event ${model}.${event}`);
  return found;
}

/** One step of a story: change the episode, then say what happened. */
interface Step {
  spec: EventSpec;
  /** Applied to the episode before the message is built. */
  apply?: (e: Episode, at: Date, rng: Rng) => void;
  /** Minutes since the story's previous event. */
  after: number;
}

type Story = (rng: Rng) => Step[];

const A = (event: string, after: number, apply?: Step["apply"], canceled?: string): Step => ({
  spec: the("PatientAdmin", event, canceled),
  after,
  ...(apply ? { apply } : {}),
});

/** A stay in hospital: arrival to discharge (sometimes undone by a cancel). */
const inpatientStay: Story = (rng) => {
  const steps: Step[] = [];
  if (rng.chance(0.3)) steps.push(A("PreAdmit", 0));
  steps.push(A("Arrival", rng.int(5, 90), (e, at) => e.visit.start = at));
  if (rng.chance(0.08)) return [...steps, A("Cancel", rng.int(5, 60), undefined, "Arrival")];
  steps.push({ spec: the("Order", "New"), after: rng.int(10, 60) });
  if (rng.chance(0.2)) steps.push({ spec: the("Order", "Update"), after: rng.int(5, 30) });
  steps.push({ spec: the("Results", "New"), after: rng.int(60, 240) });
  if (rng.chance(0.6)) {
    steps.push(A("Transfer", rng.int(60, 600), (e, _at, r) => {
      e.visit.previous = e.visit.location;
      // From the emergency department or another unit to a ward.
      e.visit.location = bedIn(r, unitOf(r, "Inpatient", e.visit.location.unit));
    }));
    if (rng.chance(0.1)) {
      steps.push(A("Cancel", rng.int(5, 30), (e) => {
        if (e.visit.previous) e.visit.location = e.visit.previous;
      }, "Transfer"));
    }
  }
  steps.push(A("VisitUpdate", rng.int(30, 300), (e, _at, r) => {
    const more = r.pick(DIAGNOSES);
    if (!e.visit.diagnoses.includes(more)) e.visit.diagnoses.push(more);
  }));
  steps.push({ spec: the("Notes", "New"), after: rng.int(30, 600), apply: (e) => e.documents++ });
  if (rng.chance(0.4)) {
    steps.push({ spec: the("Media", "New"), after: rng.int(10, 120), apply: (e) => e.documents++ });
  }
  steps.push(A("Discharge", rng.int(600, 4000), (e, at) => e.visit.end = at));
  if (rng.chance(0.05)) {
    steps.push(A("Cancel", rng.int(5, 60), (e) => delete e.visit.end, "Discharge"));
  }
  return steps;
};

/** An outpatient visit: registration, an order, its result or its cancellation, a note. */
const outpatientVisit: Story = (rng) => {
  const steps: Step[] = [
    A("Registration", 0, (e, at, r) => {
      e.visit.start = at;
      e.visit.location = bedIn(r, unitOf(r, "Outpatient"));
    }),
    { spec: the("Order", "New"), after: rng.int(10, 40) },
  ];
  if (rng.chance(0.15)) steps.push({ spec: the("Order", "Cancel"), after: rng.int(5, 30) });
  else steps.push({ spec: the("Results", "New"), after: rng.int(30, 180) });
  steps.push({ spec: the("Notes", "New"), after: rng.int(20, 90), apply: (e) => e.documents++ });
  return steps;
};

const S = (event: string, after: number, apply?: Step["apply"]): Step => ({
  spec: the("Scheduling", event),
  after,
  ...(apply ? { apply } : {}),
});

/** An appointment: booked, perhaps rescheduled or modified, then canceled, missed or kept. */
const appointment: Story = (rng) => {
  const steps: Step[] = [];
  if (rng.chance(0.3)) steps.push(A("NewPatient", 0));
  steps.push(S("New", rng.int(1, 30), (e) => e.appointment.status = "Booked"));
  if (rng.chance(0.4)) {
    steps.push(S("Reschedule", rng.int(60, 4000), (e, _at, r) => {
      e.appointment.at = plusMinutes(e.appointment.at, r.int(1, 14) * 24 * 60);
    }));
  }
  if (rng.chance(0.25)) {
    steps.push(S("Modification", rng.int(60, 2000), (e, _at, r) => {
      e.appointment.minutes = r.pick([20, 30, 40, 60]);
    }));
  }
  const end = rng.next();
  if (end < 0.15) {
    steps.push(S("Cancel", rng.int(60, 2000), (e) => e.appointment.status = "Cancelled"));
  } else if (end < 0.25) {
    steps.push(S("NoShow", rng.int(60, 2000), (e) => e.appointment.status = "Noshow"));
  } else {
    steps.push(A("Registration", rng.int(60, 2000), (e, at) => {
      e.visit.start = at;
      e.visit.location = {
        unit: e.appointment.unit,
        room: e.appointment.room,
        bed: "",
      };
      e.visit.attending = e.appointment.provider;
    }));
  }
  return steps;
};

/** A duplicate record made at registration, merged into the real one. */
const duplicateMerge: Story = (rng) => [
  A("NewPatient", 0, (e) => e.duplicate = true),
  A("PatientMerge", rng.int(60, 2880), (e) => e.duplicate = false),
];

/** A patient moves or changes phone number. */
const demographicsUpdate: Story = () => [
  A("PatientUpdate", 0, (e, _at, r) => {
    const p = e.patient as { -readonly [K in keyof SyntheticPatient]: SyntheticPatient[K] };
    e.patient = {
      ...p,
      address: { ...p.address, StreetAddress: `${r.int(1, 9899)} ${r.pick(STREETS)}` },
    };
  }),
];

const STORIES: readonly [Story, number][] = [
  [inpatientStay, 4],
  [outpatientVisit, 3],
  [appointment, 3],
  [duplicateMerge, 1],
  [demographicsUpdate, 1],
];

function pickStory(rng: Rng): { story: Story; cls: "Inpatient" | "Emergency" | "Outpatient" } {
  const total = STORIES.reduce((n, [, w]) => n + w, 0);
  let roll = rng.next() * total;
  for (const [story, w] of STORIES) {
    roll -= w;
    if (roll < 0) {
      const cls = story === inpatientStay
        ? (rng.chance(0.5) ? "Emergency" : "Inpatient")
        : "Outpatient";
      return { story, cls };
    }
  }
  return { story: inpatientStay, cls: "Inpatient" };
}

interface Running {
  episode: Episode;
  steps: Step[];
  next: number;
  rng: Rng;
}

/** See the module doc. */
export class Simulator {
  /** The registry patients are drawn from. */
  readonly registry: Registry;
  readonly #rng: Rng;
  readonly #prefix: string;
  readonly #receiving: string;
  readonly #concurrent: number;
  #clock: Date;
  #seq = 0;
  #stories = 0;
  #running: Running[] = [];

  /** A simulator; see {@link SimulatorOptions}. */
  constructor(options: SimulatorOptions = {}) {
    const seed = String(options.seed ?? "sandbox");
    this.registry = options.registry ?? createRegistry({ seed });
    this.#rng = new Rng(`stream:${seed}`);
    this.#prefix = (options.controlIdPrefix ?? "SIM").slice(0, 12);
    this.#receiving = options.receivingApplication ?? "ENGINE";
    this.#concurrent = Math.max(1, options.concurrentStories ?? 6);
    this.#clock = new Date(options.start ?? Date.UTC(2025, 0, 6, 8));
  }

  /** The next event of one of the stories being told (a new story starts when one ends). */
  next(): SyntheticMessage {
    while (this.#running.length < this.#concurrent) this.#running.push(this.#newStory());
    const i = this.#rng.int(0, this.#running.length - 1);
    const r = this.#running[i]!;
    const step = r.steps[r.next++]!;
    if (r.next >= r.steps.length) this.#running.splice(i, 1);
    // The stories share one clock: a step's delay moves it on, scaled down as stories interleave.
    this.#clock = plusMinutes(this.#clock, Math.max(1, Math.round(step.after / this.#concurrent)));
    step.apply?.(r.episode, this.#clock, r.rng);
    return this.#emit(step.spec, r.episode, r.rng);
  }

  /** `count` events of the stream. */
  take(count: number): SyntheticMessage[] {
    return Array.from({ length: Math.max(0, count) }, () => this.next());
  }

  /**
   * `count` events of the kinds `label` names (see {@link resolveEvents}), taken in turn, each
   * about a patient of its own in an episode that has come as far as that event.
   *
   * @throws {Error} when the label names no event.
   */
  events(label: string, count: number): SyntheticMessage[] {
    const specs = resolveEvents(label);
    if (specs.length === 0) {
      throw new Error(`no event matches ${JSON.stringify(label)}: ${supportedLabels().join(", ")}`);
    }
    const out: SyntheticMessage[] = [];
    for (let i = 0; i < count; i++) out.push(this.event(specs[i % specs.length]!));
    return out;
  }

  /** One event of `spec` about a fresh episode, as if what leads to it had happened. */
  event(spec: EventSpec): SyntheticMessage {
    const rng = this.#rng.fork(`event:${this.#seq}`);
    this.#clock = plusMinutes(this.#clock, rng.int(1, 10));
    const patient = this.registry.patients[this.#stories++ % this.registry.patients.length]!;
    const cls = spec.eventType === "Registration" ? "Outpatient" : "Inpatient";
    const episode = newEpisode(rng, patient, plusMinutes(this.#clock, -rng.int(120, 4000)), cls);
    if (spec.eventType === "Discharge") episode.visit.end = this.#clock;
    if (spec.eventType === "Transfer") {
      episode.visit.previous = episode.visit.location;
      episode.visit.location = bedIn(rng, unitOf(rng, "Inpatient", episode.visit.location.unit));
    }
    if (spec.dataModel === "Scheduling") {
      const status: Record<string, string> = { Cancel: "Cancelled", NoShow: "Noshow" };
      episode.appointment.status = status[spec.eventType] ?? "Booked";
    }
    return this.#emit(spec, episode, rng);
  }

  #newStory(): Running {
    const n = this.#stories++;
    const rng = this.#rng.fork(`story:${n}`);
    const { story, cls } = pickStory(rng);
    const patient = rng.pick(this.registry.patients);
    return { episode: newEpisode(rng, patient, this.#clock, cls), steps: story(rng), next: 0, rng };
  }

  #emit(spec: EventSpec, episode: Episode, rng: Rng): SyntheticMessage {
    const seq = ++this.#seq;
    const json = buildMessage(spec, episode, this.#clock, rng);
    const controlId = `${this.#prefix}${seq}`;
    const hl7 = jsonToHl7(json, {
      timeZone: "UTC",
      controlId,
      sendingApplication: SENDING_APPLICATION,
      sendingFacility: FACILITY,
      receivingApplication: this.#receiving,
    });
    return { seq, spec, label: labelOf(spec), patient: episode.patient, controlId, json, hl7 };
  }
}

/** Every label of the form `ADT^A01`, once each, in table order. */
export function supportedLabels(): string[] {
  return [...new Set(EVENTS.map(labelOf))];
}
