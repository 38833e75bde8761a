/**
 * A manual page as data, rendered to roff for `man` and to plain text for `pcocc help` where man is absent.
 * Inline text keeps a small Markdown subset (`code`, **bold**, *italic*, [text](url)) for the renderers.
 */
export type Block =
  | { kind: "heading"; level: 2 | 3; text: string }
  | { kind: "para"; text: string }
  | { kind: "code"; lines: string[] }
  /** Lines kept apart but wrapped, e.g. the usage lines of a SYNOPSIS. */
  | { kind: "lines"; lines: string[] }
  | { kind: "list"; items: string[] }
  /** Terms with their explanation, e.g. options or configuration keys (Markdown tables become these). */
  | { kind: "defs"; items: Array<{ term: string; body: string[] }> };

export interface Page {
  /** e.g. `pcocc-alloc`, `pcocc-templates.yaml` */
  name: string;
  section: 1 | 5 | 7;
  summary: string;
  blocks: Block[];
}

/** A Markdown inline span: code, bold, italic or plain text. */
export type Span = { style: "code" | "bold" | "italic" | "plain"; text: string };

const INLINE = /`([^`]+)`|\*\*(.+?)\*\*|\*([^*\s][^*]*?)\*|\[([^\]]+)\]\([^)]*\)/g;

export function spans(text: string): Span[] {
  const out: Span[] = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push({ style: "plain", text: text.slice(last, m.index) });
    if (m[1] !== undefined) out.push({ style: "code", text: m[1] });
    else if (m[2] !== undefined) out.push({ style: "bold", text: m[2] });
    else if (m[3] !== undefined) out.push({ style: "italic", text: m[3] });
    else out.push({ style: "plain", text: m[4]! });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ style: "plain", text: text.slice(last) });
  return out.map((s) => ({ ...s, text: s.text.replace(/\\([|*`])/g, "$1") }));
}
