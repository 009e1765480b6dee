/**
 * `main.ts actor ID pause|resume|retry|skip --reason TEXT`: an operator command on one actor of a
 * running engine, through `POST /admin/actors/:id/<command>` (audited by the engine as any admin
 * call). Prints the engine's answer; exit 0 when done, 1 when refused (409), unknown (404) or
 * invalid (400), 2 when the engine cannot be asked.
 * @module
 */

import { actorPath, AdminClient, AdminUnreachable, terminalSafe } from "./admin_client.ts";

/** The commands `POST /admin/actors/:id/<command>` takes. */
export const ACTOR_COMMANDS = ["pause", "resume", "retry", "skip"] as const;

/** One of {@link ACTOR_COMMANDS}. */
export type ActorCommandName = typeof ACTOR_COMMANDS[number];

/** Whether `name` is one of {@link ACTOR_COMMANDS}. */
export function isActorCommand(name: string): name is ActorCommandName {
  return (ACTOR_COMMANDS as readonly string[]).includes(name);
}

/**
 * Sends `command` for actor `id` with `reason` and `by`; prints the outcome through `print` (or
 * `printError` for a refusal) and returns the exit code.
 */
export async function runActorCommand(
  client: AdminClient,
  request: { id: string; command: ActorCommandName; reason: string; by: string },
  print: (line: string) => void,
  printError: (line: string) => void,
): Promise<number> {
  const { id, command } = request;
  let answer;
  try {
    answer = await client.request(
      "POST",
      `/admin/actors/${actorPath(id)}/${command}`,
      { reason: request.reason, by: request.by },
    );
  } catch (error) {
    if (!(error instanceof AdminUnreachable)) throw error;
    printError(`actor: ${terminalSafe(error.message)}`);
    return 2;
  }
  const body = typeof answer.body === "object" && answer.body !== null
    ? answer.body as Record<string, unknown>
    : {};
  const text = terminalSafe(
    String(body.message ?? body.error ?? `HTTP ${answer.status} without a message`),
  );
  const who = terminalSafe(id);
  if (answer.status === 200 && body.ok === true) {
    print(`${who} ${command}: ${text}`);
    return 0;
  }
  const why = answer.status === 409
    ? "refused"
    : answer.status === 404
    ? "not found"
    : answer.status === 403
    ? "forbidden (the token's role may not do this)"
    : `HTTP ${answer.status}`;
  printError(`actor: ${who} ${command} ${why}: ${text}`);
  return 1;
}
