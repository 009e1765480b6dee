/** @jsxImportSource hono/jsx */
// deno-lint-ignore-file jsx-key -- server-rendered once, never diffed: keys serve nothing
/**
 * `/console/users` (admin): the users from config (read only) and from KV, creating a user with
 * a password (argon2id) and optionally an API token (shown once), and deleting one.
 * @module
 */

import type { Context, Hono } from "hono";
import type { Role, UserRecord } from "../../../actors/ports.ts";
import { peerIp } from "../peer.ts";
import { writeAudit } from "./audit.ts";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { Csrf, href, Page, time } from "./layout.tsx";
import { requireRole } from "./roles.ts";
import { randomToken } from "./sessions.ts";
import { reservedUserName, ROLES, tokenDigest, userIdentity, Users } from "./users.ts";
import { readForm } from "./security.ts";

const NAME = /^[\w.@-]{1,100}$/;

/** Adds the users page and its actions. */
export function userRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  const page = async (
    c: Context<ConsoleEnv>,
    notice?: { text: string; token?: string; error?: boolean },
    status = 200,
  ) => {
    const stored = await deps.state.listUsers();
    const session = c.var.session;
    return c.html(
      <Page title="Users" active="/console/users" session={session}>
        <h1>Users</h1>
        {notice
          ? <p class={notice.error ? "error" : "notice"} role="status">{notice.text}</p>
          : null}
        {notice?.token
          ? (
            <p>
              API token (shown once): <code id="new-token">{notice.token}</code>
            </p>
          )
          : null}
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Kept in</th>
              <th>API token</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {deps.users.configured().map((u) => (
              <tr data-user={u.name}>
                <td>{u.name}</td>
                <td>{u.role}</td>
                <td>config</td>
                <td>{u.token ? "yes" : "no"}</td>
                <td></td>
              </tr>
            ))}
            {stored.map((u) => (
              <tr data-user={u.name}>
                <td>{u.name}</td>
                <td>{u.role}</td>
                <td>KV, by {u.createdBy} {time(u.createdAt)}</td>
                <td>{u.tokenSha256 ? "yes" : "no"}</td>
                <td>
                  <form
                    method="post"
                    action={`${href("/console/users", u.name)}/delete`}
                    class="inline"
                    data-confirm={`Delete ${u.name}?`}
                  >
                    <Csrf session={session} />
                    <button type="submit" class="danger">Delete</button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Add a user</h2>
        <form method="post" action="/console/users" class="filters">
          <Csrf session={session} />
          <label>
            Name <input name="name" required pattern="[\w.@\-]{1,100}" />
          </label>
          <label>
            Role{" "}
            <select name="role">
              {ROLES.map((r) => <option>{r}</option>)}
            </select>
          </label>
          <label>
            Password <input name="password" type="password" required minlength={12} />
          </label>
          <label>
            <span>
              <input type="checkbox" name="token" value="1" /> issue an API token
            </span>
          </label>
          <button type="submit">Add</button>
        </form>
      </Page>,
      status as 200,
    );
  };

  app.get("/console/users", requireRole("admin"), (c) => page(c));

  app.post("/console/users", requireRole("admin"), async (c) => {
    const form = await readForm(c);
    if (!form) return c.text("refused: the form could not be read (not a valid form body)", 400);
    const name = typeof form.name === "string" ? form.name.trim() : "";
    const role = typeof form.role === "string" ? form.role : "";
    const password = typeof form.password === "string" ? form.password : "";
    if (!NAME.test(name)) {
      return page(c, { text: "Name: 1 to 100 letters, digits, _ . @ -", error: true }, 400);
    }
    const reserved = reservedUserName(name);
    if (reserved) return page(c, { text: reserved, error: true }, 400);
    if (!(ROLES as readonly string[]).includes(role)) {
      return page(c, { text: "Role: viewer, operator or admin", error: true }, 400);
    }
    if (password.length < 12 || password.length > 1024) {
      return page(c, { text: "Password: 12 to 1024 characters", error: true }, 400);
    }
    if (deps.users.isConfigured(name)) {
      return page(c, { text: `${name} is a configured user`, error: true }, 409);
    }
    const token = form.token === "1" ? randomToken() : undefined;
    const who = c.var.session.principal;
    const record: UserRecord = {
      name,
      role: role as Role,
      passwordHash: await Users.hashPassword(password),
      ...(token ? { tokenSha256: tokenDigest(token) } : {}),
      createdAt: deps.now(),
      createdBy: who.name,
    };
    const created = await deps.state.createUser(record);
    if (created) {
      // Sessions of that name here are a former user's, deleted through another node.
      const sessions = deps.sessions.endUser(name, "re-created", userIdentity(record));
      if (sessions > 0) {
        deps.log.info("console.session-ended", { user: name, reason: "re-created", sessions });
      }
    }
    await writeAudit(deps, who, {
      action: "user.create",
      target: `user:${name}`,
      reason: `role ${role}`,
      address: peerIp(c),
      via: "console",
      ok: created,
      message: created ? "created" : "name taken",
    });
    if (!created) return page(c, { text: `${name} exists already`, error: true }, 409);
    return page(c, { text: `Added ${name} (${role}).`, ...(token ? { token } : {}) });
  });

  app.post("/console/users/:name/delete", requireRole("admin"), async (c) => {
    const name = c.req.param("name").slice(0, 100);
    const deleted = await deps.state.deleteUser(name);
    if (deleted) {
      // This node's sessions of the user end now; other nodes' at their next check of it.
      const sessions = deps.sessions.endUser(name);
      if (sessions > 0) {
        deps.log.info("console.session-ended", { user: name, reason: "deleted", sessions });
      }
    }
    await writeAudit(deps, c.var.session.principal, {
      action: "user.delete",
      target: `user:${name}`,
      reason: "",
      address: peerIp(c),
      via: "console",
      ok: deleted,
      message: deleted ? "deleted" : "no such user",
    });
    return page(c, { text: deleted ? `Deleted ${name}.` : `No user ${name}.`, error: !deleted });
  });
}
