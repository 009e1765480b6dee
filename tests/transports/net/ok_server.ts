/**
 * A plain `node:net` server the accept-watch tests watch, and a client of it.
 * @module
 */

import { createServer, type Server } from "node:net";

/** A plain node:net server answering "ok" on 127.0.0.1, listening. */
export async function okServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return { server, port: (server.address() as { port: number }).port };
}

/** Connects to `port` and reads what the server says until it closes. */
export async function askOk(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let text = "";
  const buf = new Uint8Array(16);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  return text;
}
