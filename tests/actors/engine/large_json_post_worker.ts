/**
 * A client on a thread of its own (see `postFromWorker` in large_json_fixture.ts): builds the
 * body it is asked for, posts it to `/endpoint`, and sends back the answer.
 * @module
 */

import { mediaBody, mediaBundle, type PostAnswer, type PostJob } from "./large_json_fixture.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<PostJob>) => void) | null;
  postMessage(m: PostAnswer | { error: string }): void;
};

scope.onmessage = async (e) => {
  const { url, token, blobChars, fhir } = e.data;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": fhir ? "application/fhir+json" : "application/json",
      },
      body: fhir
        ? new TextEncoder().encode(JSON.stringify(mediaBundle(blobChars)))
        : mediaBody(blobChars),
    });
    const text = await res.text();
    scope.postMessage({ status: res.status, contentType: res.headers.get("content-type"), text });
  } catch (error) {
    scope.postMessage({ error: String(error) });
  }
};
