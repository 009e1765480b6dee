/** @jsxImportSource hono/jsx */
/**
 * Sign-in (user name and password, or the admin token) and sign-out. The sign-in form carries its
 * own CSRF token (a cookie and a field that must match), since there is no session yet.
 *
 * Only failed attempts count (a wrong password or token, an expired form), in two budgets over a
 * rolling window (5 minutes from the config):
 * - with a user name: `attemptsPerWindow` (config `admin.loginAttemptsPerIp`, 10 by default) per
 *   address and user name together, so that a client behind the operators' proxy or NAT who
 *   fails as `alice` holds back `alice` there, not every operator;
 * - with a token (the admin token or a user's): its own budget per address,
 *   {@link TOKEN_ATTEMPTS_FACTOR} times that (50 by default): a token has 16 characters or more.
 * Past a budget, attempts of that kind are answered `429` with `Retry-After` before any check,
 * until failures age out. Successful sign-ins never count.
 *
 * A failure is logged (`console.login-failed`, throttled per address) with the user name only
 * when it names a user: anything else typed there (a token or a password one field too early) is
 * logged as its length, never its text.
 * @module
 */

import type { Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { peerIp, peerLabel } from "../peer.ts";
import { RateLimiter } from "../rate_limit.ts";
import { AUTH_LOG_BURST, PeerLog } from "../peer_log.ts";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { Page } from "./layout.tsx";
import {
  clearSessionCookie,
  readForm,
  requireCsrf,
  requireSession,
  setSessionCookie,
} from "./security.ts";
import { randomToken } from "./sessions.ts";
import { type Principal, sameString } from "./users.ts";

const LOGIN_COOKIE = "engine_console_login";
const MAX_FIELD = 4096;
/** The token sign-in's failures allowed per address: this many times the user names' budget. */
export const TOKEN_ATTEMPTS_FACTOR = 5;
/** Addresses (and address–name pairs) whose failures are tracked at most, per budget. */
const MAX_TRACKED = 10_000;
/** The shape of a user name (as the config's schema and the users page allow). */
const USER_NAME = /^[\w.@-]{1,100}$/;

function LoginPage(props: { token: string; error?: string }) {
  return (
    <Page title="Sign in">
      <section class="login">
        <h1>Sign in to the engine console</h1>
        {props.error ? <p class="error" role="alert">{props.error}</p> : null}
        <form method="post" action="/console/login">
          <input type="hidden" name="_login" value={props.token} />
          <label>
            User name <input name="name" autocomplete="username" autofocus />
          </label>
          <label>
            Password <input name="password" type="password" autocomplete="current-password" />
          </label>
          <button type="submit">Sign in</button>
        </form>
        <h2>Or with the admin token</h2>
        <form method="post" action="/console/login">
          <input type="hidden" name="_login" value={props.token} />
          <label>
            Admin token <input name="token" type="password" autocomplete="off" />
          </label>
          <button type="submit">Sign in with the token</button>
        </form>
      </section>
    </Page>
  );
}

/** Adds `/console/login` (GET, POST) and `/console/logout` (POST). */
export function loginRoutes(
  app: Hono<ConsoleEnv>,
  deps: ConsoleDeps,
  options: { attemptsPerWindow: number; windowMs: number },
): void {
  // Failures per address and user name; the token's per address (module doc).
  const byName = new RateLimiter({
    limit: options.attemptsPerWindow,
    windowMs: options.windowMs,
    maxClients: MAX_TRACKED,
    now: deps.now,
  });
  const byToken = new RateLimiter({
    limit: options.attemptsPerWindow * TOKEN_ATTEMPTS_FACTOR,
    windowMs: options.windowMs,
    maxClients: MAX_TRACKED,
    now: deps.now,
  });
  // Past its limit every attempt is refused: one line per address, then one every 5 s counting
  // those held back (peer_log.ts), not one per attempt.
  const limitedLog = new PeerLog(deps.log);
  // A wrong password is each seen, up to a burst per address; a client looping gets fewer lines.
  const failedLog = new PeerLog(deps.log, { burst: AUTH_LOG_BURST });
  /** The name as logged: itself when it names a user, else only its length (it may be a secret). */
  const loggedName = async (name: string): Promise<string> => {
    const known = USER_NAME.test(name) &&
      (deps.users.isConfigured(name) || (await deps.state.getUser(name)) !== null);
    return known ? name : `(not a user name, ${name.length} characters)`;
  };
  const form = (c: Context<ConsoleEnv>, error?: string, status = 200) => {
    const token = randomToken(18);
    setCookie(c, LOGIN_COOKIE, token, {
      path: "/console/login",
      httpOnly: true,
      secure: deps.secure,
      sameSite: "Strict",
    });
    return c.html(<LoginPage token={token} error={error} />, status as 200);
  };

  app.get("/console/login", (c) => form(c));

  app.post("/console/login", async (c) => {
    const ip = peerIp(c);
    const body = await readForm(c);
    if (!body) return form(c, "The sign-in form could not be read; try again.", 400);
    const field = (n: string) => {
      const v = body[n];
      return typeof v === "string" ? v.slice(0, MAX_FIELD) : "";
    };
    const viaToken = field("token") !== "";
    const name = field("name").trim();
    const [limiter, key] = viaToken ? [byToken, ip] : [byName, `${ip}\n${name}`];
    const decision = limiter.peek(key);
    if (!decision.allowed) {
      limitedLog.warn("console.login-limited", ip, {
        remote: peerLabel(c),
        via: viaToken ? "token" : "password",
      });
      c.header("Retry-After", String(decision.retryAfterSeconds));
      const what = viaToken ? "with a token" : "for this user name";
      return form(c, `Too many failed sign-in attempts ${what}; wait and try again.`, 429);
    }
    const cookie = getCookie(c, LOGIN_COOKIE) ?? "";
    if (cookie === "" || !sameString(cookie, field("_login"))) {
      limiter.take(key);
      return form(c, "The sign-in form expired; try again.", 403);
    }
    let who: Principal | undefined;
    if (viaToken) who = await deps.users.byToken(field("token"));
    else who = await deps.users.signIn(name, field("password"));
    if (!who) {
      limiter.take(key);
      failedLog.warn(
        "console.login-failed",
        ip,
        viaToken
          ? { remote: peerLabel(c), via: "token" }
          : { remote: peerLabel(c), via: "password", name: await loggedName(name) },
      );
      return form(c, "Wrong user name, password or token.", 401);
    }
    const session = deps.sessions.create(who, ip);
    setSessionCookie(c, deps.secure, session.id);
    deps.log.info("console.login", { remote: peerLabel(c), user: who.name, role: who.role });
    return c.redirect("/console/connections", 303);
  });

  app.post("/console/logout", requireSession(deps), requireCsrf(), (c) => {
    deps.sessions.end(c.var.session.id);
    clearSessionCookie(c, deps.secure);
    return c.redirect("/console/login", 303);
  });
}
