/**
 * The SMTP session tracker behind a deadline's reason: it names the command the server was
 * answering and the bytes it sent since, and never repeats what a command carried (addresses,
 * AUTH's answers).
 */

import assert from "node:assert/strict";
import { SmtpProgress } from "../../../transports/smtp/progress.ts";

function tracked() {
  let now = 1_000;
  const socket = { bytesRead: 0, connecting: false };
  const progress = new SmtpProgress(socket, () => now);
  return { socket, progress, advance: (ms: number) => (now += ms) };
}

Deno.test("SMTP progress: a reply under way is described by its command, bytes and time", () => {
  const { socket, progress, advance } = tracked();
  socket.bytesRead = 27;
  progress.logger.debug({ tnx: "server" }, "220 example ESMTP");
  progress.logger.debug({ tnx: "client" }, "EHLO [127.0.0.1]");
  socket.bytesRead = 31;
  advance(2_900);
  assert.equal(progress.describe(), "after EHLO it sent 4 bytes in 2.9 s, not a complete reply");
});

Deno.test("SMTP progress: the reason names MAIL FROM and AUTH, never the address or AUTH's answers", () => {
  const { socket, progress, advance } = tracked();
  progress.logger.debug({ tnx: "client" }, "AUTH LOGIN");
  // AUTH LOGIN's answer: the user name in base64 (letters only here), logged as sent.
  progress.logger.debug({ tnx: "client" }, "ZW5naW5l");
  socket.bytesRead = 1;
  advance(500);
  assert.equal(progress.describe(), "after AUTH it sent 1 byte in 0.5 s, not a complete reply");
  progress.logger.debug({ tnx: "server" }, "235 ok");
  progress.logger.debug({ tnx: "client" }, "MAIL FROM:<secret.person@example.org>");
  advance(1_000);
  const text = progress.describe();
  assert.equal(text, "after MAIL FROM it sent 0 bytes in 1 s, not a complete reply");
  assert.doesNotMatch(text, /example\.org|ZW5n/);
});

Deno.test("SMTP progress: a server that replied and then stalls after the message is described as such", () => {
  const { socket, progress, advance } = tracked();
  progress.logger.debug({ tnx: "client" }, "DATA");
  progress.logger.debug({ tnx: "server" }, "354 go on");
  progress.logger.debug({ tnx: "client" }, ".");
  socket.bytesRead = 2;
  advance(3_000);
  assert.equal(
    progress.describe(),
    "after the message it sent 2 bytes in 3 s, not a complete reply",
  );
});
