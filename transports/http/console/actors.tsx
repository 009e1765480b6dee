/** @jsxImportSource hono/jsx */
/**
 * `/console/actors`: every actor with kind, state, queue depth, age of its oldest message, the
 * message in flight, next retry and owning node (rendezvous over the live nodes, through the
 * `ClusterView` port); pause, resume, retry now, and skip the head to the dead-letter list with a
 * reason. Each row carries `data-actor-id` and `data-node`. The nodes sharing the KV (from their
 * heartbeats) are listed above, each row with `data-node-id`, and the queues with messages that no
 * running node's config can build an actor for (unserved past the grace: in no actor list), each
 * row with `data-unserved-actor`. Dead letters per actor (who, why, when, and the last delivery
 * error the destination gave) with reprocess.
 * @module
 */

import type { Hono } from "hono";
import type { ActorCommand, ActorStatus, NodeView } from "../../../actors/ports.ts";
import { peerIp } from "../peer.ts";
import { writeAudit } from "./audit.ts";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { age, Csrf, href, Page, PostButton, time } from "./layout.tsx";
import { requireRole } from "./roles.ts";
import type { Session } from "./sessions.ts";
import { allows } from "./users.ts";
import { readForm } from "./security.ts";
import { unservedOf, type UnservedQueue } from "../unserved.ts";

const COMMANDS: readonly ActorCommand[] = ["pause", "resume", "retry", "skip"];
/** Actors whose dead letters are listed at most, and letters per actor. */
const MAX_DL_ACTORS = 100;
const DL_PER_ACTOR = 20;

function Actions(props: { a: ActorStatus; session: Session }) {
  const { a, session } = props;
  if (!allows(session.principal.role, "operator")) return <span class="muted">read only</span>;
  const action = (cmd: ActorCommand) => `${href("/console/actors", a.id)}/${cmd}`;
  const paused = a.paused !== undefined || a.state === "paused";
  return (
    <>
      <form method="post" action={action(paused ? "resume" : "pause")} class="inline">
        <Csrf session={session} />
        <button type="submit" name="do" value={paused ? "resume" : "pause"}>
          {paused ? "Resume" : "Pause"}
        </button>
      </form>{" "}
      <PostButton session={session} action={action("retry")} label="Retry now" /> {a.queueDepth > 0
        ? (
          <form
            method="post"
            action={action("skip")}
            class="inline"
            data-confirm="Move the head of this queue to its dead-letter list?"
          >
            <Csrf session={session} />
            <input name="reason" required placeholder="reason to skip" size={16} maxlength={1000} />
            <button type="submit" class="danger">Skip head</button>
          </form>
        )
        : null}
    </>
  );
}

/** The nodes sharing the KV, this one marked; nothing without a cluster view. */
function Nodes(props: { nodes: NodeView[]; now: number }) {
  if (props.nodes.length === 0) return null;
  return (
    <>
      <h2>Nodes</h2>
      <table>
        <thead>
          <tr>
            <th>Node</th>
            <th>State</th>
            <th>Address</th>
            <th class="num">Actors</th>
            <th class="num">Load</th>
            <th>Last seen</th>
            <th>Started</th>
            <th>Version</th>
          </tr>
        </thead>
        <tbody>
          {props.nodes.map((n) => (
            <tr data-node-id={n.id} data-node-live={String(n.live)}>
              <td>{n.self ? `${n.id} (this node)` : n.id}</td>
              <td>{n.live ? "live" : "dead"}</td>
              <td>{n.address ?? "–"}</td>
              <td class="num">{n.actors}</td>
              <td class="num">{n.load}</td>
              <td>{age(Math.max(0, props.now - n.lastSeen))} ago</td>
              <td>{time(n.startedAt)}</td>
              <td class="muted">{n.version}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The queues no running node serves past the grace, why and what to do; nothing when none. */
function Unserved(props: { queues: UnservedQueue[] }) {
  if (props.queues.length === 0) return null;
  return (
    <>
      <h2>Unserved queues</h2>
      <p class="notice" role="status">
        {props.queues.length}{" "}
        queue(s) hold messages that no running node's config has an actor for: they wait, accepted,
        until a node that has it runs.
      </p>
      <table>
        <thead>
          <tr>
            <th>Queue</th>
            <th class="num">Messages</th>
            <th>Unserved since</th>
            <th>For</th>
            <th>Why</th>
            <th>What to do</th>
          </tr>
        </thead>
        <tbody>
          {props.queues.map((u) => (
            <tr data-unserved-actor={u.actor} data-queued={String(u.queued)}>
              <td>{u.actor}</td>
              <td class="num">{u.queued}</td>
              <td>{time(u.since)}</td>
              <td>{age(u.forMs)}</td>
              <td class="muted">{u.reason}</td>
              <td>{u.hint}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Adds the actors page and its commands. */
export function actorRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get("/console/actors", async (c) => {
    const now = deps.now();
    const statuses = (await deps.supervisor.statuses()).sort((a, b) => a.id.localeCompare(b.id));
    const nodes = (await deps.cluster?.nodes()) ?? [];
    const unserved = unservedOf(deps.supervisor).filter((u) => u.pastGrace);
    const ownerOf = (a: ActorStatus) =>
      deps.cluster?.ownerOf(a.id) ?? String(a.detail?.node ?? deps.config.node.id);
    const letters = await Promise.all(
      statuses.slice(0, MAX_DL_ACTORS).map(async (a) => ({
        actor: a.id,
        entries: await deps.store.deadLetters(a.id, DL_PER_ACTOR),
      })),
    );
    // Which destinations each actor delivers to: MLLP destinations at one host:port share one.
    const served = new Map<string, string[]>();
    for (const d of deps.config.destinations) {
      const actor = deps.actorOfDestination(d.id);
      if (actor) served.set(actor, [...(served.get(actor) ?? []), d.id]);
    }
    const flash = c.req.query("done");
    const session = c.var.session;
    return c.html(
      <Page title="Actors" active="/console/actors" session={session}>
        <h1>Actors</h1>
        {flash ? <p class="notice" role="status">{flash.slice(0, 300)}</p> : null}
        <div id="live" data-live>
          <Nodes nodes={nodes} now={now} />
          <Unserved queues={unserved} />
          {nodes.length > 0 || unserved.length > 0 ? <h2>Actors</h2> : null}
          <table>
            <thead>
              <tr>
                <th>Actor</th>
                <th>Kind</th>
                <th>State</th>
                <th class="num">Queue</th>
                <th>Oldest</th>
                <th>In flight</th>
                <th>Next retry</th>
                <th>Node</th>
                <th>Last error</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {statuses.map((a) => (
                <tr
                  data-actor-id={a.id}
                  data-state={a.paused ? "paused" : a.state}
                  data-node={ownerOf(a)}
                >
                  <td>
                    {a.id}
                    {served.get(a.id)
                      ? (
                        <div class="muted" data-destinations={served.get(a.id)!.join(" ")}>
                          → {served.get(a.id)!.join(", ")}
                        </div>
                      )
                      : null}
                  </td>
                  <td>{a.kind}</td>
                  <td>
                    {a.paused
                      ? `paused by ${a.paused.by ?? "?"}${
                        a.paused.at !== undefined ? ` since ${time(a.paused.at)}` : ""
                      }${a.paused.reason ? `: ${a.paused.reason.slice(0, 200)}` : ""}`
                      : a.state}
                  </td>
                  <td class="num">{a.queueDepth}</td>
                  <td>{age(a.oldestAgeMs)}</td>
                  <td>
                    {a.inFlight
                      ? (
                        <a href={href("/console/logs", a.inFlight.logId)}>
                          {a.inFlight.attempts} attempt(s)
                          {a.inFlight.since !== undefined ? ` since ${time(a.inFlight.since)}` : ""}
                        </a>
                      )
                      : "–"}
                  </td>
                  <td>{a.nextRetryAt ? `in ${age(a.nextRetryAt - now)}` : "–"}</td>
                  <td>{ownerOf(a)}</td>
                  <td class="muted">{a.lastError ? a.lastError.slice(0, 120) : ""}</td>
                  <td>
                    <Actions a={a} session={session} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {statuses.length === 0 ? <p class="muted">No actor is active.</p> : null}
          <h2>Dead letters</h2>
          {letters.every((l) => l.entries.length === 0)
            ? <p class="muted">No dead letter.</p>
            : (
              <table>
                <thead>
                  <tr>
                    <th>Actor</th>
                    <th>Log</th>
                    <th>By</th>
                    <th>Reason</th>
                    <th>Queued</th>
                    <th>Moved aside</th>
                    <th>Last error</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  {letters.flatMap((l) =>
                    l.entries.map((e) => (
                      <tr data-dead-letter={e.logId} data-actor-id={l.actor}>
                        <td>{l.actor}</td>
                        <td>
                          <a href={href("/console/logs", e.logId)}>{e.logId}</a>
                        </td>
                        <td>{e.by}</td>
                        <td>{e.reason}</td>
                        <td>{time(e.enqueuedAt)}</td>
                        <td>{e.at === undefined ? "" : time(e.at)}</td>
                        {/* The destination's own words (a NAK, an HTTP status): escaped text. */}
                        <td class="muted" data-last-error>{e.lastError ?? ""}</td>
                        <td>
                          {allows(session.principal.role, "operator")
                            ? (
                              <PostButton
                                session={session}
                                action={`${href("/console/logs", e.logId)}/reprocess`}
                                label="Reprocess"
                              />
                            )
                            : null}
                        </td>
                      </tr>
                    ))
                  )}
                </tbody>
              </table>
            )}
        </div>
      </Page>,
    );
  });

  app.post(
    "/console/actors/:id/:command{pause|resume|retry|skip}",
    requireRole("operator"),
    async (c) => {
      const id = c.req.param("id").slice(0, 256);
      const command = c.req.param("command") as ActorCommand;
      if (!COMMANDS.includes(command)) return c.text("no such command", 404);
      const form = await readForm(c);
      if (!form) return c.text("refused: the form could not be read (not a valid form body)", 400);
      const reason = typeof form.reason === "string" ? form.reason.trim().slice(0, 1000) : "";
      if (command === "skip" && reason === "") {
        return c.text("skip needs a reason (it is written to the audit log)", 400);
      }
      const who = c.var.session.principal;
      const result = await deps.supervisor.command(id, command, who.name, reason);
      const message = result ? result.message : `no actor ${id}`;
      await writeAudit(deps, who, {
        action: command,
        target: `actor:${id}`,
        reason,
        address: peerIp(c),
        via: "console",
        ok: result?.ok ?? false,
        message,
      });
      deps.log.info("console.command", { actor: id, command, by: who.name, ok: result?.ok });
      if (!result) return c.text(message, 404);
      return c.redirect(
        `/console/actors?done=${encodeURIComponent(`${command}: ${message}`)}`,
        303,
      );
    },
  );
}
