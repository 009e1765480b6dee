/**
 * Checks that span sections of the config: ids unique, references resolvable, routing kept inside
 * one environment, ports not claimed twice.
 * @module
 */

import type { Config } from "./schema.ts";
import type { ConfigProblem } from "./load.ts";
import { type Broken, isBroken, NOTHING_BROKEN } from "./salvage.ts";
import { shapingOf } from "./shaping.ts";
import { crossCheckAlerts } from "./alerts.ts";
import { formatMismatch } from "./destination_formats.ts";

/**
 * Every cross-section problem of a well-formed config, or of the well-formed parts of one
 * (`broken` names what was left out: references to it are not reported as unknown).
 */
export function crossCheck(config: Config, broken: Broken = NOTHING_BROKEN): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });

  const envs = uniqueIds(config.environments, "environments", add);
  const sources = uniqueIds(config.sources, "sources", add);
  const integrations = uniqueIds(config.integrations, "integrations", add);
  const destinations = uniqueIds(config.destinations, "destinations", add);
  uniqueIds(config.connections, "connections", add);
  const subscriptionIds = config.subscriptions.flatMap((s) => (s.id ? [{ id: s.id }] : []));
  uniqueIds(subscriptionIds, "subscriptions", add);

  const envType = new Map(config.environments.map((e) => [e.id, e.type]));
  const checkEnv = (section: string, items: readonly { environment: string }[]) =>
    items.forEach((item, i) => {
      if (!envs.has(item.environment) && !isBroken(broken, "environments", item.environment)) {
        add(
          `$.${section}[${i}].environment`,
          `unknown environment "${item.environment}" (known: ${[...envs.keys()].join(", ")})`,
        );
      }
    });
  checkEnv("sources", config.sources);
  checkEnv("integrations", config.integrations);
  checkEnv("destinations", config.destinations);

  const clientIds = new Map<string, number>();
  config.sources.forEach((s, i) => {
    const first = clientIds.get(s.clientId);
    if (first !== undefined) {
      add(`$.sources[${i}].clientId`, `client id already used by $.sources[${first}]`);
    } else clientIds.set(s.clientId, i);
  });

  // Credentials and keys travel over these URLs: plain http only where nothing real is at stake.
  config.destinations.forEach((d, i) => {
    const type = envType.get(d.environment);
    if (d.https && type !== undefined && type !== "development") {
      if (!d.https.url.startsWith("https://")) {
        add(`$.destinations[${i}].https.url`, `a ${type} destination must use https://`);
      }
      const auth = d.https.auth;
      if ("tokenUrl" in auth && !auth.tokenUrl.startsWith("https://")) {
        add(
          `$.destinations[${i}].https.auth.tokenUrl`,
          `a ${type} destination must fetch its tokens over https://`,
        );
      }
    }
  });
  // An assertion's audience is checked against the configured token URL only, never the Host
  // header a client chose: without http.publicUrl no assertion could be accepted.
  const assertionSource = config.sources.findIndex((s) => !s.auth.secret);
  if (assertionSource >= 0 && !config.http.publicUrl && !broken.sections.has("http")) {
    add(
      "$.http.publicUrl",
      `required: source "${config.sources[assertionSource]!.id}" signs JWT client assertions, ` +
        "whose aud must be <publicUrl>/v2/auth/token; set the base URL clients reach the engine " +
        'at (e.g. "https://engine.example.org", or "http://127.0.0.1:8080" for development)',
    );
  }
  config.sources.forEach((s, i) => {
    const url = s.auth.jwksUrl;
    if (url === undefined) return;
    const type = envType.get(s.environment);
    if (!/^https?:\/\//.test(url)) {
      add(`$.sources[${i}].auth.jwksUrl`, "expected an https:// URL");
    } else if (type !== undefined && type !== "development" && !url.startsWith("https://")) {
      add(`$.sources[${i}].auth.jwksUrl`, `a ${type} source must publish its keys over https://`);
    }
  });

  config.subscriptions.forEach((s, i) => {
    const here = `$.subscriptions[${i}]`;
    let fromEnv: string | undefined;
    if (s.from.integration !== undefined) {
      fromEnv = integrations.get(s.from.integration)?.environment;
      const id = s.from.integration;
      if (!integrations.has(id) && !isBroken(broken, "integrations", id)) {
        add(`${here}.from.integration`, `unknown integration "${id}"`);
      }
    } else if (s.from.source !== undefined) {
      fromEnv = sources.get(s.from.source)?.environment;
      if (!sources.has(s.from.source) && !isBroken(broken, "sources", s.from.source)) {
        add(`${here}.from.source`, `unknown source "${s.from.source}"`);
      }
    }
    s.to.forEach((to, j) => {
      const dest = destinations.get(to);
      const mismatch = dest && s.format ? formatMismatch(dest, s.format) : undefined;
      if (mismatch) {
        // Routing would fail every message of it (destination_formats.ts), after the sender was
        // answered AA: refused here instead.
        add(
          `${here}.format`,
          `"${s.format}" cannot go to destination "${to}": an ${mismatch.kind} destination ` +
            `takes ${mismatch.takes} only (use "hl7v2" or leave format out)`,
        );
      }
      if (!dest) {
        if (!isBroken(broken, "destinations", to)) {
          add(`${here}.to[${j}]`, `unknown destination "${to}"`);
        }
      } else if (
        // A sender or destination in an unknown environment is reported once, above.
        fromEnv && envs.has(fromEnv) && envs.has(dest.environment) && dest.environment !== fromEnv
      ) {
        add(
          `${here}.to[${j}]`,
          `routes across environments: the sender is in "${fromEnv}", destination "${to}" in "${dest.environment}"`,
        );
      }
    });
  });

  config.connections.forEach((c, i) => {
    const refs: [string, string[], Map<string, unknown>][] = [
      ["integrations", c.integrations, integrations],
      ["sources", c.sources, sources],
      ["destinations", c.destinations, destinations],
    ];
    for (const [key, list, known] of refs) {
      list.forEach((ref, j) => {
        if (!known.has(ref) && !isBroken(broken, key, ref)) {
          add(`$.connections[${i}].${key}[${j}]`, `unknown ${key.slice(0, -1)} "${ref}"`);
        }
      });
    }
  });

  problems.push(...shapingOf(config).problems);
  if (config.alerts && !broken.sections.has("alerts")) {
    problems.push(...crossCheckAlerts(config.alerts, { integrations, destinations }));
  }
  checkPorts(config, broken, add);
  checkMllpClaims(config, add);
  checkSharedMllpAddresses(config, add);
  // Without a readable sftpServer section, who feeds an integration or takes an outbox is unknown.
  if (!broken.sections.has("sftpServer")) {
    checkHostedFolder(config, integrations, broken, add);
    checkOutboxes(config, add);
  }
  return problems;
}

function uniqueIds<T extends { id: string }>(
  items: readonly T[],
  section: string,
  add: (path: string, message: string) => void,
): Map<string, T> {
  const seen = new Map<string, T>();
  const index = new Map<string, number>();
  items.forEach((item, i) => {
    const first = index.get(item.id);
    if (first !== undefined) {
      add(`$.${section}[${i}].id`, `duplicate id "${item.id}" (first at $.${section}[${first}])`);
    } else {
      seen.set(item.id, item);
      index.set(item.id, i);
    }
  });
  return seen;
}

function checkPorts(
  config: Config,
  broken: Broken,
  add: (path: string, message: string) => void,
): void {
  const owners = new Map<number, string>();
  const claim = (port: number, path: string) => {
    const owner = owners.get(port);
    if (owner !== undefined) add(path, `port ${port} is already used by ${owner}`);
    else owners.set(port, path);
  };
  if (!broken.sections.has("http") && config.http.port !== 0) {
    claim(config.http.port, "$.http.port");
  }
  // Port 0 is a port the system chooses when it binds: never the same as another.
  if (config.sftpServer && config.sftpServer.port !== 0) {
    claim(config.sftpServer.port, "$.sftpServer.port");
  }
  config.listeners.forEach((l, i) => claim(l.port, `$.listeners[${i}].port`));
  config.integrations.forEach((integration, i) => {
    const port = integration.mllp?.port;
    if (port === undefined) return;
    const owner = owners.get(port);
    // An integration may share a port with a listener entry or another integration, never with
    // the HTTP or SFTP server.
    if (owner === "$.http.port" || owner === "$.sftpServer.port") {
      add(`$.integrations[${i}].mllp.port`, `port ${port} is already used by ${owner}`);
    }
  });
}

function checkMllpClaims(config: Config, add: (path: string, message: string) => void): void {
  const claims = new Map<string, number>();
  config.integrations.forEach((integration, i) => {
    const mllp = integration.mllp;
    if (!mllp) return;
    mllp.allowedIps.forEach((ip, j) => {
      const key = `${mllp.port}|${ip}|${mllp.sendingFacility ?? ""}`;
      const first = claims.get(key);
      if (first !== undefined) {
        add(
          `$.integrations[${i}].mllp.allowedIps[${j}]`,
          `port ${mllp.port} and address ${ip} are already claimed by $.integrations[${first}]; set a distinct "sendingFacility" on each to tell them apart`,
        );
      } else claims.set(key, i);
    });
  });
}

function checkHostedFolder(
  config: Config,
  integrations: Map<string, Config["integrations"][number]>,
  broken: Broken,
  add: (path: string, message: string) => void,
): void {
  const fed = new Set<string>();
  config.sftpServer?.users.forEach((user, i) => {
    const target = integrations.get(user.integration);
    if (!target) {
      if (isBroken(broken, "integrations", user.integration)) return;
      add(`$.sftpServer.users[${i}].integration`, `unknown integration "${user.integration}"`);
    } else if (target.mllp || target.sftp) {
      add(
        `$.sftpServer.users[${i}].integration`,
        `integration "${user.integration}" already receives by ${
          target.mllp ? "MLLP" : "SFTP polling"
        }`,
      );
    }
    fed.add(user.integration);
  });
  config.integrations.forEach((integration, i) => {
    if (
      !integration.mllp && !integration.sftp && !integration.forward && !fed.has(integration.id)
    ) {
      add(
        `$.integrations[${i}]`,
        'an integration needs "mllp", "sftp", "forward", or a user of the hosted sftpServer that ' +
          "feeds it",
      );
    }
    const from = integration.forward?.source;
    if (from !== undefined && !config.sources.some((s) => s.id === from)) {
      add(`$.integrations[${i}].forward.source`, `unknown source "${from}"`);
    }
  });
}

/** A destination of kind `sftpOutbox` delivers to a user of the hosted `sftpServer`. */
function checkOutboxes(config: Config, add: (path: string, message: string) => void): void {
  const users = config.sftpServer?.users.map((u) => u.name);
  config.destinations.forEach((d, i) => {
    if (!d.sftpOutbox) return;
    const user = d.sftpOutbox.user;
    if (!users) {
      add(
        `$.destinations[${i}].sftpOutbox`,
        `an sftpOutbox destination needs the hosted "sftpServer" section, where user "${user}" downloads its files`,
      );
    } else if (!users.includes(user)) {
      add(
        `$.destinations[${i}].sftpOutbox.user`,
        `unknown sftpServer user "${user}" (known: ${users.join(", ") || "none"})`,
      );
    }
  });
}

/**
 * MLLP destinations at one `host:port` share one actor: one connection and one FIFO queue (each
 * keeps its own `ackTimeoutSeconds` and `onNack`). The connection's settings are the first such
 * destination's, so another that says otherwise would be silently overruled: refused instead.
 */
function checkSharedMllpAddresses(
  config: Config,
  add: (path: string, message: string) => void,
): void {
  const first = new Map<string, number>();
  config.destinations.forEach((d, i) => {
    if (!d.mllp) return;
    const address = `${d.mllp.host}:${d.mllp.port}`;
    const j = first.get(address);
    if (j === undefined) {
      first.set(address, i);
      return;
    }
    const a = config.destinations[j]!;
    const differs = (field: string) =>
      add(
        `$.destinations[${i}].mllp.${field}`,
        `destination "${d.id}" shares ${address} with "${a.id}" ($.destinations[${j}]): one ` +
          `connection and one FIFO queue carry both, with "${a.id}"'s ${field}; give both the ` +
          "same, or make them one destination",
      );
    if (d.mllp.idleCloseSeconds !== a.mllp!.idleCloseSeconds) differs("idleCloseSeconds");
    if (d.mllp.connectTimeoutSeconds !== a.mllp!.connectTimeoutSeconds) {
      differs("connectTimeoutSeconds");
    }
    if (!sameTls(d.mllp.tls, a.mllp!.tls)) differs("tls");
  });
}

/** Whether two MLLP destinations' TLS settings are the same (secrets compared by value). */
function sameTls(
  a: DestinationTls | undefined,
  b: DestinationTls | undefined,
): boolean {
  if (!a || !b) return a === b;
  const value = (s: { reveal(): string } | undefined) => s?.reveal();
  return value(a.ca) === value(b.ca) && value(a.cert) === value(b.cert) &&
    value(a.key) === value(b.key);
}

/** An MLLP destination's `tls`. */
type DestinationTls = NonNullable<NonNullable<Config["destinations"][number]["mllp"]>["tls"]>;
