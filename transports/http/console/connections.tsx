/** @jsxImportSource hono/jsx */
// deno-lint-ignore-file jsx-key -- server-rendered once, never diffed: keys serve nothing
/**
 * `/console/connections`: one tile per connection with its integrations, sources and destinations,
 * each with a health dot and 24-hour counts; `/console/connections/:id`: the data flow, our side
 * on the left, the connection's endpoints on the right, one arrow per subscription.
 * @module
 */

import type { Hono } from "hono";
import type { ActorStatus, Config } from "../../../actors/ports.ts";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { href, Page } from "./layout.tsx";
import { type Counts, flowKey, type Tally, TallyCache } from "./tally.ts";

/** A health as the dots show it. */
export type Health = "listening" | "connected" | "backing-off" | "paused" | "failing" | "idle";

/** The health of a delivery actor. */
export function actorHealth(s: ActorStatus | undefined): Health {
  if (!s) return "idle";
  if (s.paused || s.state === "paused") return "paused";
  if (s.state === "backoff") return (s.inFlight?.attempts ?? 0) >= 3 ? "failing" : "backing-off";
  if (s.socket === "open" || s.state === "sending" || s.state === "awaiting-ack") {
    return "connected";
  }
  return s.lastError && s.queueDepth > 0 ? "failing" : "connected";
}

/** The health of an inbound integration, from its actors (`mllp-in:<port>:*`, `sftp:<id>`). */
function integrationHealth(
  i: Config["integrations"][number],
  statuses: ActorStatus[],
): Health {
  const mine = statuses.filter((s) =>
    i.mllp ? s.id.startsWith(`mllp-in:${i.mllp.port}:`) : s.id === `sftp:${i.id}` ||
      s.id === `sftp-poll:${i.id}`
  );
  if (mine.some((s) => s.paused || s.state === "paused")) return "paused";
  if (mine.some((s) => s.state === "backoff")) return "backing-off";
  if (mine.some((s) => s.socket === "open")) return "connected";
  return "listening";
}

function Dot(props: { health: Health }) {
  return <span class={`dot ${props.health}`} title={props.health.replace("-", " ")}></span>;
}

function CountText(props: { counts?: Counts; tally: Tally }) {
  const c = props.counts ?? { total: 0, failed: 0 };
  const more = props.tally.truncated ? "≥" : "";
  return (
    <span class="muted">
      {more}
      {c.total} in 24 h{c.failed > 0 ? <span class="error">, {c.failed} failed</span> : null}
    </span>
  );
}

/** Adds the connections pages. */
export function connectionRoutes(
  app: Hono<ConsoleEnv>,
  deps: ConsoleDeps,
  tally: TallyCache,
): void {
  const { config } = deps;
  const byId = <T extends { id: string }>(list: readonly T[]) =>
    new Map(list.map((x) => [x.id, x]));

  app.get("/console/connections", async (c) => {
    const [statuses, t] = await Promise.all([deps.supervisor.statuses(), tally.last24h()]);
    const actors = byId(statuses);
    const integrations = byId(config.integrations);
    const health = (kind: string, id: string): Health => {
      if (kind === "integration") {
        const i = integrations.get(id);
        return i ? integrationHealth(i, statuses) : "idle";
      }
      if (kind === "source") return "listening";
      const actor = deps.actorOfDestination(id);
      return actorHealth(actor ? actors.get(actor) : undefined);
    };
    const Row = (props: { kind: string; id: string }) => (
      <li>
        <Dot health={health(props.kind, props.id)} />
        <span class="muted">{props.kind}</span> {props.id}{" "}
        <CountText counts={t.counts.get(`${props.kind}:${props.id}`)} tally={t} />
      </li>
    );
    return c.html(
      <Page title="Connections" active="/console/connections" session={c.var.session}>
        <h1>Connections</h1>
        <div id="live" data-live class="tiles">
          {config.connections.length === 0
            ? <p class="muted">No connections in the config (section "connections").</p>
            : null}
          {config.connections.map((conn) => (
            <section class="tile" data-connection-id={conn.id}>
              <h2>
                <a href={href("/console/connections", conn.id)}>{conn.name}</a>{" "}
                <span class="muted">{conn.id}</span>
              </h2>
              <ul>
                {conn.integrations.map((id) => <Row kind="integration" id={id} />)}
                {conn.sources.map((id) => <Row kind="source" id={id} />)}
                {conn.destinations.map((id) => <Row kind="destination" id={id} />)}
              </ul>
            </section>
          ))}
        </div>
      </Page>,
    );
  });

  app.get("/console/connections/:id", async (c) => {
    const conn = config.connections.find((x) => x.id === c.req.param("id"));
    if (!conn) {
      return c.html(
        <Page title="No such connection" session={c.var.session}>
          <p class="error">No connection {c.req.param("id")}.</p>
        </Page>,
        404,
      );
    }
    const [statuses, t] = await Promise.all([deps.supervisor.statuses(), tally.last24h()]);
    const actors = byId(statuses);
    const mine = new Set([...conn.integrations, ...conn.sources, ...conn.destinations]);
    // A subscription is part of this connection's flow when either end is one of its endpoints.
    const flows = config.subscriptions.flatMap((s, n) => {
      const from = s.from.integration ?? s.from.source ?? "";
      return s.to.filter((to) => mine.has(from) || mine.has(to)).map((to) => ({ s, n, from, to }));
    });
    const inbound = conn.destinations.length === 0;
    return c.html(
      <Page
        title={`Data flow · ${conn.name}`}
        active="/console/connections"
        session={c.var.session}
      >
        <h1>
          Data flow of {conn.name} <span class="muted">{conn.id}</span>
        </h1>
        <div id="live" data-live>
          {flows.length === 0
            ? <p class="muted">No subscription involves this connection.</p>
            : (
              <div class="flow">
                <strong>Our side</strong>
                <strong class="muted">Subscriptions {inbound ? "(from them)" : "(to them)"}</strong>
                <strong>{conn.name}</strong>
                {flows.map(({ s, n, from, to }) => {
                  const counts = t.counts.get(flowKey(from, to));
                  const actor = deps.actorOfDestination(to);
                  const theirs = mine.has(to);
                  return (
                    <>
                      <div class="end" data-flow-from={from}>
                        {theirs ? from : to}
                      </div>
                      <div class="arrow" data-subscription={s.id ?? String(n)}>
                        {theirs ? "→ " : "← "}
                        {(s.dataModels ?? ["any data model"]).join(", ")}
                        {" · "}
                        {(s.eventTypes ?? ["any event"]).join(", ")}
                        <br />
                        <span class="muted">
                          {t.truncated ? "≥" : ""}
                          {counts?.total ?? 0} in 24 h
                        </span>
                        {counts?.failed
                          ? <span class="fails">, {counts.failed} failed</span>
                          : null}
                      </div>
                      <div class="end" data-flow-to={to}>
                        <Dot health={actorHealth(actor ? actors.get(actor) : undefined)} />
                        {theirs ? to : from}
                        {actor
                          ? (
                            <>
                              {" "}
                              <a href={`/console/logs?destination=${encodeURIComponent(to)}`}>
                                logs
                              </a>
                            </>
                          )
                          : null}
                      </div>
                    </>
                  );
                })}
              </div>
            )}
        </div>
      </Page>,
    );
  });
}
