/** @jsxImportSource hono/jsx */
// deno-lint-ignore-file jsx-key -- server-rendered once, never diffed: keys serve nothing
/**
 * A message shown as received: HL7 v2 segment by segment with every field and component
 * hoverable with its path (`PID-5.1`), JSON pretty-printed, anything else offered as a download.
 * Every piece of it is text in the page (escaped by JSX), never markup.
 * @module
 */

import type { JSX } from "hono/jsx/jsx-runtime";
import type { Child } from "hono/jsx";

/** Longest payload shown in the page (larger ones: the download). */
export const MAX_SHOWN = 512 * 1024;

/** One HL7 segment's fields, each component titled with its path. */
function Segment(props: { line: string; field: string; component: string; repetition: string }) {
  const { line, field: fs } = props;
  const name = line.slice(0, 3);
  const fields = line.split(fs);
  // MSH-1 is the field separator itself, so MSH's fields are numbered one higher.
  const offset = name === "MSH" ? 1 : 0;
  const parts: Child[] = [<span class="f" title={`${name}`}>{fields[0]}</span>];
  for (let i = 1; i < fields.length; i++) {
    const n = i + offset;
    const value = fields[i]!;
    parts.push(<span class="sep">{fs}</span>);
    if (name === "MSH" && i === 1) {
      parts.push(<span class="f" title="MSH-2">{value}</span>);
      continue;
    }
    const comps = value.split(props.repetition).flatMap((rep, r) => {
      const out: Child[] = r > 0 ? [<span class="sep">{props.repetition}</span>] : [];
      const cs = rep.split(props.component);
      cs.forEach((comp, k) => {
        if (k > 0) out.push(<span class="sep">{props.component}</span>);
        out.push(
          <span class="c" title={cs.length > 1 ? `${name}-${n}.${k + 1}` : `${name}-${n}`}>
            {comp}
          </span>,
        );
      });
      return out;
    });
    parts.push(<span class="f" data-path={`${name}-${n}`} title={`${name}-${n}`}>{comps}</span>);
  }
  return <span class="seg" data-segment={name}>{parts}</span>;
}

/** HL7 v2 text as segments; separators read from MSH (defaults `|^~`). */
export function Hl7(props: { text: string }): JSX.Element {
  const text = props.text;
  const field = text.startsWith("MSH") && text.length > 3 ? text[3]! : "|";
  const enc = text.startsWith("MSH") ? text.slice(4, 8) : "^~\\&";
  const component = enc[0] ?? "^";
  const repetition = enc[1] ?? "~";
  const lines = text.split(/\r\n|\r|\n/).filter((l) => l !== "");
  return (
    <pre class="hl7">
      {lines.map((line) => (
        <Segment line={line} field={field} component={component} repetition={repetition} />
      ))}
    </pre>
  );
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** How a payload is shown, by content type and what it decodes as. */
export function Payload(
  props: { bytes: Uint8Array; contentType: string; download: string },
): JSX.Element {
  const { bytes, contentType } = props;
  let text: string | undefined;
  try {
    text = bytes.length <= MAX_SHOWN ? utf8.decode(bytes) : undefined;
  } catch { /* binary */ }
  if (text === undefined) {
    return (
      <p>
        {bytes.length} bytes of {contentType} <a href={props.download} download>Download</a>
      </p>
    );
  }
  if (/hl7|x-hl7/i.test(contentType) || text.startsWith("MSH")) return <Hl7 text={text} />;
  if (/json/i.test(contentType)) {
    try {
      return <pre class="json">{JSON.stringify(JSON.parse(text), null, 2)}</pre>;
    } catch { /* shown as text */ }
  }
  return <pre>{text}</pre>;
}
